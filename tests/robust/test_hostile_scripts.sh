#!/bin/bash
# Hostile scenarios (issue 13): a looping finalizer, a pattern that backtracks
# for minutes in one C call, an event and error flood, a 10 MB error message.
# Each ends ERROR or FAIL at its own file:line within its bound, otahil stays
# small, and the reports stay small; ASan (CI) checks nothing leaks.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}
SC=tests/robust/scenarios
now() { date +%s.%N; }
secs() { python3 -c "print(int(float('$2') - float('$1') + 0.999))"; }
# watch_peak PID: waits for it; sets rc (its status) and peak (its highest RSS, KiB)
watch_peak() {
  local pid=$1 rss
  peak=0
  while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/VmRSS/ { print $2 }' /proc/"$pid"/status 2>/dev/null || echo 0)
    [ "${rss:-0}" -gt "$peak" ] && peak=$rss
    sleep 0.1
  done
  wait "$pid"
  rc=$?
}

t0=$(now)
timeout -k 5 $((60 * M)) "$OTAHIL" run $SC/gc_loop.lua --lab lab/emulated.lua --filter '*@emu-qcloud' \
  --report "$WORK/gc" > "$WORK/gc.txt" 2>&1
rc=$?
check "__gc loop: exit 1 (got $rc; old code: hung past every deadline)" [ "$rc" -eq 1 ]
check "__gc loop: ERROR at the scenario's line" grep -q "gc_loop.lua:3: setmetatable: __gc finalizers are not allowed" "$WORK/gc.txt"

t0=$(now)
timeout -k 5 $((120 * M)) "$OTAHIL" run $SC/slow_pattern.lua --lab lab/emulated.lua --filter '*@emu-qcloud' \
  --report "$WORK/pat" > "$WORK/pat.txt" 2>&1
rc=$?
took=$(secs "$t0" "$(now)")
check "slow pattern: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "slow pattern: ERROR at the scenario's line, once" grep -q "^        [^ ]*slow_pattern.lua:4: held the loop" "$WORK/pat.txt"
check "slow pattern: stopped by the watchdog (${took} s; old code: minutes)" [ "$took" -le $((5 * M + 8)) ]

# SIGTERM during the slow pattern: the watchdog ends the call, the signal the run
"$OTAHIL" run $SC/slow_pattern.lua --lab lab/emulated.lua --filter '*@emu-qcloud' --report "$WORK/pat2" \
  > "$WORK/pat2.txt" 2>&1 &
pid=$!
sleep 1
t0=$(now)
kill -TERM $pid
for _ in $(seq 200); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && { kill -KILL $pid; not_ok "SIGTERM during a slow pattern: otahil still runs"; }
wait $pid
rc=$?
check "SIGTERM during a slow pattern: exit 1 (got $rc)" [ "$rc" -eq 1 ]

"$OTAHIL" run $SC/event_flood.lua --lab lab/emulated.lua --filter '*@emu-qcloud' --report "$WORK/ev" --timeout-multiplier "$M" \
  > "$WORK/ev.txt" 2>&1 &
watch_peak $!
size=$(stat -c %s "$WORK/ev/report.json")
check "event flood: the case passes (rc $rc: $(grep -A1 "^[A-Z]* " "$WORK/ev.txt" | tail -1 | head -c 200))" [ "$rc" -eq 0 ]
echo "# event flood: peak RSS $((peak / 1024)) MiB, report.json $((size / 1024)) KiB"
# ASan keeps freed memory in quarantine and a shadow of it all: its RSS says little
limit=400; [ -n "${ASAN_OPTIONS:-}" ] && limit=1600
check "event flood: otahil stays under $limit MiB (peak $((peak / 1024)) MiB; old code: 2.65 GB)" [ "$peak" -lt $((limit * 1024)) ]
check "event flood: report.json stays under 48 MiB (old code: 671 MB)" [ "$size" -lt $((48 * 1024 * 1024)) ]
check "event flood: the log says it is full (log.capped)" grep -q "log.capped" "$WORK/ev/logs/scenarios/event_flood@emu-qcloud.log"
check "event flood: the summary says a log filled up" grep -q "filled their event log" "$WORK/ev.txt"
check "event flood: a 16 MB field is cut in the log, its length kept" grep -q "data_len=16777216" "$WORK/ev/logs/scenarios/event_flood@emu-qcloud.log"

"$OTAHIL" run $SC/huge_error.lua --lab lab/emulated.lua --filter '*@emu-qcloud' --report "$WORK/he" > "$WORK/he.txt" 2>&1
size=$(stat -c %s "$WORK/he/junit.xml")
check "a 10 MB FAIL message: junit.xml stays small (${size} bytes; old code: 52 MB)" [ "$size" -lt $((300 * 1024)) ]
check "a 10 MB FAIL message: otahil's output stays small" [ "$(stat -c %s "$WORK/he.txt")" -lt 20000 ]
# a JSON text whose cJSON tree is 30 times its size: counted against the cap
"$OTAHIL" run $SC/json_bomb.lua --lab lab/emulated.lua --filter '*@emu-qcloud' --report "$WORK/jb" \
  > "$WORK/jb.txt" 2>&1 &
watch_peak $!
echo "# json bomb: peak RSS $((peak / 1024)) MiB"
check "json bomb: exit 1, ERROR at the scenario's line (rc $rc)" \
  grep -q "json_bomb.lua:11: json.decode: memory cap exceeded" "$WORK/jb.txt"
grep -q "json_bomb.lua:11:" "$WORK/jb.txt" || tail -5 "$WORK/jb.txt"
limit=300; [ -n "${ASAN_OPTIONS:-}" ] && limit=1200
check "json bomb: otahil stays under $limit MiB (peak $((peak / 1024)) MiB; old code: the tree outside the cap)" \
  [ "$peak" -lt $((limit * 1024)) ]
finish
