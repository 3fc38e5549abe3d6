#!/usr/bin/env bash
# A runaway loop inside pcall is an ERROR at its budget, not a hang.
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}

# 1. runaway inside pcall
timeout 120 "$OTAHIL" run tests/fixtures/misc/runaway_pcall.lua --lab lab/emulated.lua --report "$WORK/rp" \
  > "$WORK/rp.txt" 2>&1
rc=$?
check "runaway in pcall: exit 1, not a hang (got $rc)" [ "$rc" -eq 1 ]
check "runaway in pcall: ERROR" [ "$(outcome "$WORK/rp" '*')" = "ERROR" ]
check "runaway in pcall: the message names file:line" grep -q "runaway_pcall.lua:7: instruction budget" "$WORK/rp.txt"
printf 'while true do pcall(function() while true do end end) end\n' > "$WORK/top.lua"
timeout 60 "$OTAHIL" list "$WORK/top.lua" > "$WORK/top.txt" 2>&1
rc=$?
check "runaway at a file's top level: list exits 2 (got $rc)" [ "$rc" -eq 2 ]

finish
