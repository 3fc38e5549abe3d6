#!/usr/bin/env bash
# Ways a harness could hang, or pass what it must not (found in review), each
# shown to end as it should:
#  1. a runaway loop inside pcall is an ERROR at its budget, not a hang
#  2. a death pattern that comes in the same console read as the awaited line FAILs
#  3. non-finite or absurd numbers (scenario timeout, --timeout-multiplier) are
#     refused before running, exit 2, with the place named
#  4. a run whose every case is skipped exits 1 ("nothing ran")
#  5. reports of a run killed with SIGKILL do not read as passing; a finished
#     run's report says complete
#  6. t.fw:fault refuses a delay, times, truncate_after or status out of range
#     (-1, NaN, inf, 1e300, fractions) at the scenario's line
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

# 2. the panic line and the awaited line in one write
cat > "$WORK/panic.lua" <<'LAB'
device "sh-board" {
  dialect = "qcloud", product = "P", device = "sh-board", version = "1.0.0",
  kind = "process",
  cmd = { "/bin/sh", "-c", "sleep 0.3; printf 'Kernel panic - not syncing: VFS\\r\\nboot ok\\r\\n'; sleep 30" },
  console = { transport = "pty", death = { "Kernel panic" } },
  features = { "power", "console" },
}
LAB
for i in 1 2 3; do
  timeout 60 "$OTAHIL" run tests/fixtures/misc/panic_same_read.lua --lab "$WORK/panic.lua" --report "$WORK/pa$i" \
    --timeout-multiplier "$M" > "$WORK/pa$i.txt" 2>&1
  check "panic in the same read (run $i): FAIL" [ "$(outcome "$WORK/pa$i" '*')" = "FAIL" ]
done
check "panic in the same read: the pattern is named" grep -q "death pattern 'Kernel panic'" "$WORK/pa1.txt"

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

# 4. every case skipped (the device lacks the feature the scenario requires);
# a feature name no catalogue knows is a lab error instead
sed 's/features = { "power", "console", "console-lines", "resume", "rollback", "burn-check" }/features = { "Power", "console" }/' lab/emulated.lua > "$WORK/typo.lua"
timeout 60 "$OTAHIL" run scenarios/qcloud/02_*.lua --lab "$WORK/typo.lua" --report "$WORK/ty" > "$WORK/ty.txt" 2>&1
rc=$?
check "an unknown feature in the lab: exit 2 (got $rc)" [ "$rc" -eq 2 ]
check "an unknown feature: located and the known ones listed" \
  grep -q "typo.lua:[0-9]*: device 'emu-qcloud': feature 'Power' is unknown (known: .*power" "$WORK/ty.txt"
sed 's/features = { "power", "console", "console-lines", "resume", "rollback", "burn-check" }/features = { "console" }/' lab/emulated.lua > "$WORK/nopower.lua"
timeout 60 "$OTAHIL" run scenarios/qcloud/02_*.lua --lab "$WORK/nopower.lua" --report "$WORK/sk" > "$WORK/sk.txt" 2>&1
rc=$?
check "every case skipped: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "every case skipped: says nothing ran" grep -q "nothing ran" "$WORK/sk.txt"
check "every case skipped: the case is SKIP" [ "$(outcome "$WORK/sk" '*' | tr ' ' '\n' | sort -u)" = "SKIP" ]

# 5. SIGKILL mid-run: the reports left behind read as failing and incomplete
"$OTAHIL" run tests/fixtures/interrupt --lab lab/emulated.lua --report "$WORK/kill" > "$WORK/kill.txt" 2>&1 &
pid=$!
for _ in $(seq 200); do pgrep -f "[o]tadev.*$WORK/kill" > /dev/null && break; sleep 0.05; done
sleep 0.3
kill -KILL $pid
wait $pid 2> /dev/null
pkill -KILL -f "$WORK/kill" 2> /dev/null # what a killed otahil may have left (otadev, mosquitto)
check "SIGKILL: report.json says incomplete" python3 -c "
import json, sys
d = json.load(open('$WORK/kill/report.json'))
sys.exit(0 if d['complete'] is False and all(s.get('pending') for s in d['scenarios']) else 1)"
check "SIGKILL: every case (and the run itself) is in junit.xml as an error" [ "$(grep -c '<error' "$WORK/kill/junit.xml")" -eq \
  "$(( $(ls tests/fixtures/interrupt/*.lua | wc -l) + 1 ))" ]
check "SIGKILL: junit.xml says why" grep -q 'not finished' "$WORK/kill/junit.xml"
check "a finished run says complete" python3 -c "
import json, sys
d = json.load(open('$WORK/rp/report.json'))
sys.exit(0 if d['complete'] is True and not any(s.get('pending') for s in d['scenarios']) else 1)"

# 6. t.fw:fault's numbers: each bad one raises (checked inside the scenario with
# pcall); the last, uncaught, makes the case an ERROR located at its line
timeout 60 "$OTAHIL" run tests/fixtures/misc/fw_fault_args.lua --lab lab/emulated.lua --report "$WORK/ff" \
  > "$WORK/ff.txt" 2>&1
rc=$?
check "fw:fault bad numbers: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "fw:fault bad numbers: ERROR, not FAIL or PASS" [ "$(outcome "$WORK/ff" '*')" = "ERROR" ]
check "fw:fault bad numbers: located at the scenario's line" \
  grep -q "fw_fault_args.lua:36: fw:fault: delay must be a number of seconds in 0..3600" "$WORK/ff.txt"

# 7. a signal while the board's power is put back at exit (power.at_exit) does
# not kill otahil: the power command finishes and the run ends as it would
cat > "$WORK/board.lua" <<LAB
device "relay-board" {
  dialect = "qcloud", product = "P", device = "relay-board", version = "1.0.0",
  kind = "board",
  power = { driver = "exec", timeout = 10, at_exit = "on",
            on = { "/bin/sh", "-c", "echo on-start >> $WORK/relay.log; sleep 2; echo on-done >> $WORK/relay.log" },
            off = { "/bin/sh", "-c", "echo off >> $WORK/relay.log" } },
  console = { transport = "tcp", host = "127.0.0.1", tcp_port = 9, retry = 1 },
  features = { "power", "console" },
}
LAB
"$OTAHIL" run tests/fixtures/misc/quick.lua --lab "$WORK/board.lua" --report "$WORK/ax" > "$WORK/ax.txt" 2>&1 &
pid=$!
for _ in $(seq 300); do grep -q on-start "$WORK/relay.log" 2> /dev/null && break; sleep 0.05; done
check "at-exit power: the 'on' command started" grep -q on-start "$WORK/relay.log"
kill -TERM $pid
for _ in $(seq 200); do kill -0 $pid 2> /dev/null || break; sleep 0.05; done
kill -KILL $pid 2> /dev/null
wait $pid
rc=$?
check "SIGTERM during at-exit power: otahil ends on its own, exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "SIGTERM during at-exit power: the power command finished first" grep -q on-done "$WORK/relay.log"
check "SIGTERM during at-exit power: the report is complete" python3 -c "
import json, sys
sys.exit(0 if json.load(open('$WORK/ax/report.json'))['complete'] is True else 1)"

finish
