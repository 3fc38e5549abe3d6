#!/usr/bin/env bash
# A device that writes its console without pause (a hostile-user probe: a case
# ran 90 s past its 60 s deadline, SIGINT and SIGTERM were ignored, mosquitto
# dropped the cloud client: the pty read loop never saw EAGAIN). It may cost
# CPU, never the loop:
#  A. a case with a 3 s deadline ends TIMEOUT at it, otahil exits soon after
#  B. SIGTERM in the middle of a flood stops otahil within 2 s
# and nothing of the device is left running.
. "$(dirname "$0")/../e2e/lib.sh"
. "$OTAHIL_SRC/tests/robust/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}
SC=tests/robust/scenarios
MARK="otahil-flood-$$-$RANDOM"
now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }
below() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$1" "$2"; }
trap 'marked_kill "$MARK"; cleanup' EXIT
# CPU seconds (user + system) of a process so far
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' /proc/$1/stat; }

cat > "$WORK/lab.lua" <<LAB
device "flood" {
  dialect = "qcloud", product = "P", device = "flood", version = "1.0.0",
  kind = "process",
  cmd = { "$OTAHIL_SRC/tests/robust/flood_device.sh", "$MARK", "cr" },
  console = { transport = "pty", cap_bytes = 65536, cap_rate = 65536 }, -- a flood must hit the guard
  features = { "power", "console" },
}
LAB

# A. the deadline wins
t0=$(now)
timeout -k 5 $((60 * M)) "$OTAHIL" run $SC/flood_deadline.lua --lab "$WORK/lab.lua" --report "$WORK/a" \
  --timeout-multiplier "$M" > "$WORK/a.txt" 2>&1
rc=$?
took=$(secs "$t0" "$(now)")
sed 's/^/# /' "$WORK/a.txt"
check "A: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "A: the case is TIMEOUT" [ "$(outcome "$WORK/a" '*')" = "TIMEOUT" ]
# the case's own duration, from a complete report only
dur=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['scenarios'][0]['duration'] if d.get('complete') else 999)" \
  "$WORK/a/report.json" 2>/dev/null || echo 999)
check "A: it ended at its deadline ($dur s for a ${M}x3 s deadline)" below "$dur" "$((3 * M + 1))"
check "A: otahil exited ${took} s after it started (deadline ${M}x3 s)" below "$took" "$((3 * M + 10))"
check "A: nothing of the device is left" [ -z "$(marked "$MARK")" ]
check "A: the case log counts what the console guard dropped (console.dropped)" \
  grep -q "console.dropped .*bytes=[1-9]" "$WORK/a/logs/"*/*.log

# B. SIGTERM in the middle of a flood
"$OTAHIL" run $SC/flood_long.lua --lab "$WORK/lab.lua" --report "$WORK/b" --timeout-multiplier "$M" \
  > "$WORK/b.txt" 2>&1 &
run=$!
for _ in $(seq 200); do [ -n "$(marked "$MARK")" ] && break; sleep 0.05; done
check "B: the device floods" [ -n "$(marked "$MARK")" ]
sleep 2
c0=$(cpu $run)
sleep 2
c1=$(cpu $run)
echo "# otahil's CPU under the flood: $(secs "$c0" "$c1") s in 2 s"
t0=$(now)
kill -TERM $run
for _ in $(seq $((200 * M))); do kill -0 $run 2>/dev/null || break; sleep 0.05; done
took=$(secs "$t0" "$(now)")
if kill -0 $run 2>/dev/null; then kill -KILL $run; fi
wait $run
rc=$?
sed 's/^/# /' "$WORK/b.txt"
check "B: SIGTERM stopped otahil in ${took} s (at most 2 s)" below "$took" 2
check "B: exit 1, the case ERROR (terminated) (got $rc)" [ "$rc" -eq 1 ]
check "B: the case says terminated" grep -q "terminated (SIGTERM)" "$WORK/b.txt"
for _ in $(seq 40); do [ -z "$(marked "$MARK")" ] && break; sleep 0.05; done
check "B: nothing of the device is left" [ -z "$(marked "$MARK")" ]

finish
