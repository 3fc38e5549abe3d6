#!/usr/bin/env bash
# Fails if C sources call a banned function (unbounded or unsafe string/number parsing).
root=${1:-.}
hits=$(grep -nE '\b(sprintf|vsprintf|strcat|strncpy|strtok|sscanf|gets|atoi)\s*\(' \
  $(find "$root"/harness "$root"/cloud "$root"/netem "$root"/drivers "$root"/reports "$root"/tests "$root"/bench \
      -name '*.c' -o -name '*.h' 2>/dev/null) | grep -v '^\s*//' )
if [ -n "$hits" ]; then
  echo "banned functions used (use snprintf, memcpy with lengths, strtol with end checks):"
  echo "$hits"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "banned-function check: clean"
