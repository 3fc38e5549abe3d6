#!/usr/bin/env bash
# Non-finite or absurd numbers (a scenario timeout, --timeout-multiplier, a lab's timing, t.fw:fault's delay/times/truncate_after/status) are refused, located.
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}

# 3. numbers that are not
mkdir -p "$WORK/num"
for v in "0/0" "1/0" "1e300" "-1"; do
  name=t$(printf '%s' "$v" | tr -c 'a-z0-9' '_')
  printf 'return { name = "n", dialect = "qcloud", timeout = %s, run = function(t) end }\n' "$v" > "$WORK/num/$name.lua"
  timeout 30 "$OTAHIL" run "$WORK/num/$name.lua" --lab lab/emulated.lua --report "$WORK/num/r$name" \
    > "$WORK/num/$name.txt" 2>&1
  rc=$?
  check "scenario timeout = $v: exit 2 (got $rc)" [ "$rc" -eq 2 ]
  check "scenario timeout = $v: the file is named" grep -q "$name.lua: timeout must be" "$WORK/num/$name.txt"
done
for v in nan inf -2 0; do
  timeout 30 "$OTAHIL" run tests/fixtures/misc/console_next.lua --lab lab/emulated.lua --report "$WORK/tm" \
    --timeout-multiplier "$v" > "$WORK/tm.txt" 2>&1
  rc=$?
  check "--timeout-multiplier $v: exit 2 (got $rc)" [ "$rc" -eq 2 ]
done
sed 's/timing = { boot = 5,/timing = { boot = 0\/0,/' lab/emulated.lua > "$WORK/nanlab.lua"
grep -q 'boot = 0/0' "$WORK/nanlab.lua"
check "the lab test edit applied" [ $? -eq 0 ]
timeout 30 "$OTAHIL" run scenarios/qcloud/01_*.lua --lab "$WORK/nanlab.lua" --report "$WORK/nl" > "$WORK/nl.txt" 2>&1
rc=$?
check "a timing knob of 0/0 in the lab: exit 2 (got $rc)" [ "$rc" -eq 2 ]
check "a timing knob of 0/0: located" grep -q "nanlab.lua:[0-9]*: device 'emu-qcloud': timing.boot must be" "$WORK/nl.txt"

# 6. t.fw:fault's numbers: each bad one raises (checked inside the scenario with
# pcall); the last, uncaught, makes the case an ERROR located at its line
timeout 60 "$OTAHIL" run tests/fixtures/misc/fw_fault_args.lua --lab lab/emulated.lua --report "$WORK/ff" \
  > "$WORK/ff.txt" 2>&1
rc=$?
check "fw:fault bad numbers: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "fw:fault bad numbers: ERROR, not FAIL or PASS" [ "$(outcome "$WORK/ff" '*')" = "ERROR" ]
check "fw:fault bad numbers: located at the scenario's line" \
  grep -q "fw_fault_args.lua:36: fw:fault: delay must be a number of seconds in 0..3600" "$WORK/ff.txt"

finish
