#!/usr/bin/env bash
# Fails if C sources carry Lua source in a string literal (issue 14: "C provides
# mechanisms, Lua provides policy"; Lua belongs in .lua files, compiled in by
# harness/lua/embed.cmake). A chunk handed to luaL_loadbuffer must be a
# generated *_lua array, not a literal.
root=${1:-.}
files=$(find "$root"/harness "$root"/cloud "$root"/netem "$root"/drivers "$root"/reports -name '*.c' -o -name '*.h')
# a string literal that starts like Lua: "local x = ...", "function a.b(", "end\n"
hits=$(grep -nE '^\s*"(local [a-zA-Z_, ]+ = |function [a-zA-Z_.:]+\(|end\\n")' $files)
if [ -n "$hits" ]; then
  echo "Lua source in C strings (move it to a .lua file beside the C, embedded by harness/lua/embed.cmake):"
  echo "$hits"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "Lua-in-C check: clean"
