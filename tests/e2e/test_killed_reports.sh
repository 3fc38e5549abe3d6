#!/usr/bin/env bash
# The reports of a run killed with SIGKILL do not read as passing; a finished run's report says complete.
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}

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
"$OTAHIL" run tests/fixtures/misc/quick.lua --lab lab/emulated.lua --report "$WORK/rp" > "$WORK/rp.txt" 2>&1
check "a finished run says complete" python3 -c "
import json, sys
d = json.load(open('$WORK/rp/report.json'))
sys.exit(0 if d['complete'] is True and not any(s.get('pending') for s in d['scenarios']) else 1)"

finish
