#!/bin/bash
# A lab file has the limits of a scenario (issue 13): an endless loop, a huge
# table, error({}), a binary chunk, JSON nesting past 64 are each exit 2 with
# the file (and line), fast, and nothing leaks (ASan in CI).
. "$(dirname "$0")/../e2e/lib.sh"
lab_case() { # lab_case NAME EXPECTED-REGEX LUA...
  local name=$1 want=$2; shift 2
  printf '%s\n' "$@" > "$WORK/$name.lua"
  local t0=$SECONDS
  timeout 60 "$OTAHIL" run tests/fixtures/misc/quick.lua --lab "$WORK/$name.lua" --report "$WORK/o-$name" > "$WORK/$name.txt" 2>&1
  local rc=$?
  check "$name: exit 2 (got $rc)" [ "$rc" -eq 2 ]
  check "$name: says so, located ($(head -c 160 "$WORK/$name.txt"))" grep -qE "$want" "$WORK/$name.txt"
  check "$name: within 30 s ($((SECONDS - t0)) s)" [ $((SECONDS - t0)) -le 30 ]
}
lab_case loop "loop.lua:2: the lab file runs too long" 'local n = 0' 'while true do n = n + 1 end'
lab_case pcall_loop "pcall_loop.lua:[0-9]+: the lab file runs too long" 'for i = 1, 10 do pcall(function() while true do end end) end'
lab_case huge "huge.lua: the lab file needs more than 64 MiB" 'local t = {}' 'for i = 1, 1e9 do t[i] = ("x"):rep(65536) .. i end'
lab_case errtable "errtable.lua:1: error raised with a table value, not a message" 'error({})'
lab_case errnil "errnil.lua:1: error raised with a nil value" 'error(nil)'
deep='local t = {} local c = t for i = 1, 80 do c.x = {} c = c.x end device "d" { dialect = "qcloud", product = "P", device = "d", version = "1", cmd = { "/bin/true" }, timing = { x = t } }'
lab_case deep "deep.lua:1: .*nesting deeper than 64" "$deep"
printf '\033Lua\124\0' > "$WORK/binary.lua"
timeout 30 "$OTAHIL" run tests/fixtures/misc/quick.lua --lab "$WORK/binary.lua" --report "$WORK/o-bin" > "$WORK/bin.txt" 2>&1
rc=$?
check "a binary lab file: exit 2 (got $rc)" [ "$rc" -eq 2 ]
check "a binary lab file: the file is named" grep -q "binary.lua: .*binary chunk" "$WORK/bin.txt"
finish
