#!/usr/bin/env bash
# A signal while the boards' power is put back at exit (power.at_exit) does not stop it.
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}

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
