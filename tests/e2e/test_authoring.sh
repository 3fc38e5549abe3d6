#!/bin/bash
# Scenario authoring (issue 16): the fault API does what it reads, misuse is an
# error at the author's line. Scenarios in tests/e2e/authoring/.
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}
SC=tests/e2e/authoring
run() { # run NAME SCENARIO
  timeout -k 5 $((120 * M)) "$OTAHIL" run "$SC/$2" --lab lab/emulated.lua --filter '*@emu-qcloud' \
    --report "$WORK/$1" > "$WORK/$1.txt" 2>&1
}

run faults fault_api.lua
check "fault API: handles, events, reset (old code: 'fault' on add, reset undone by clear)" \
  [ "$(outcome "$WORK/faults" '*')" = PASS ]
[ "$(outcome "$WORK/faults" '*')" = PASS ] || cat "$WORK/faults.txt"

run keys unknown_key.lua
check "unknown key: exit 1" [ $? -eq 1 ]
check "unknown key: named with the accepted ones at the scenario's line" grep -q \
  "unknown_key.lua:5: cut: unknown key 'at_body_bytes' (at_body_byte, at_byte, after_ms, rst, times, dir)" "$WORK/keys.txt"
grep -q "unknown key" "$WORK/keys.txt" || cat "$WORK/keys.txt"

finish
