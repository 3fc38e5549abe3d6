#!/usr/bin/env bash
# Ctrl-C during a run: cleanup runs, the device's power is cut, the reports are whole, exit 1.
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}

# 5. Ctrl-C: cleanup runs, the device is cut, reports are whole, exit 1
"$OTAHIL" run tests/fixtures/interrupt --lab lab/emulated.lua --report "$WORK/int" > "$WORK/int.txt" 2>&1 &
pid=$!
for _ in $(seq 200); do pgrep -f "[o]tadev.*$WORK/int" >/dev/null && break; sleep 0.05; done
sleep 0.2
kill -INT $pid
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
wait $pid
rc=$?
check "SIGINT: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "SIGINT: the running case is ERROR (interrupted)" [ "$(outcome "$WORK/int" 'interrupt/1_slow@*')" = "ERROR" ]
check "SIGINT: the cases not run are SKIP" [ "$(outcome "$WORK/int" 'interrupt/2_*' | tr ' ' '\n' | sort -u)" = "SKIP" ]
check "SIGINT: no otadev left" bash -c "! pgrep -f '[o]tadev.*$WORK/int' >/dev/null"
check "SIGINT: junit.xml is whole" python3 -c "import xml.etree.ElementTree as E; E.parse('$WORK/int/junit.xml')"

finish
