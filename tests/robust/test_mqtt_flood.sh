#!/bin/bash
# A device that floods MQTT (issue 13: ~17k messages/s grew otahil to 844 MB):
# the case's event log stops at its cap, otahil's memory stays bounded, the
# case ends on time, SIGTERM stops otahil at once, the reports stay small.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}
# ASan keeps up to 256 MiB of freed memory resident (its quarantine, by design):
# the bound below is on what otahil holds, so the quarantine is kept small here
[ -n "${ASAN_OPTIONS:-}" ] && export ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=16"
PUB=$(command -v mosquitto_pub || echo /usr/bin/mosquitto_pub)
cat > "$WORK/lab.lua" <<LUA
device "flood" {
  dialect = "qcloud", product = "P", device = "flood", version = "1.0.0",
  cmd = { "/bin/sh", "-c", "yes 'a flood of messages' | $PUB -h {mqtt_host} -p {mqtt_port} -t flood/x -l -q 0" },
}
LUA
"$OTAHIL" run tests/robust/scenarios/mqtt_flood.lua --lab "$WORK/lab.lua" --report "$WORK/a" --timeout-multiplier "$M" \
  > "$WORK/a.txt" 2>&1 &
pid=$!
peak=0
t0=$SECONDS
while kill -0 $pid 2>/dev/null; do
  rss=$(awk '/VmRSS/ { print $2 }' /proc/$pid/status 2>/dev/null || echo 0)
  [ "${rss:-0}" -gt "$peak" ] && peak=$rss
  sleep 0.2
  [ $((SECONDS - t0)) -gt $((60 * M)) ] && { kill -KILL $pid; break; }
done
wait $pid
rc=$?
sed 's/^/# /' "$WORK/a.txt" | head -8
n=$(grep -c "mqtt.in" "$WORK/a/logs/scenarios/mqtt_flood@flood.log")
echo "# the case's log kept $n messages; otahil's peak RSS $((peak / 1024)) MiB"
check "MQTT flood: the case passes (rc $rc)" [ "$rc" -eq 0 ]
check "MQTT flood: the log kept many messages, then said it was full" bash -c \
  "[ $n -gt 1000 ] || ! grep -q log.capped '$WORK/a/logs/scenarios/mqtt_flood@flood.log'"
check "MQTT flood: otahil's memory stays under 512 MiB (peak $((peak / 1024)) MiB; old code: 844 MB in 3 cases)" \
  [ "$peak" -lt $((512 * 1024)) ]
size=$(stat -c %s "$WORK/a/report.json")
check "MQTT flood: report.json under 64 MiB ($((size / 1024)) KiB; old code: 104 MB)" [ "$size" -lt $((64 * 1024 * 1024)) ]
check "MQTT flood: nothing of the device is left" [ -z "$(pgrep -f "yes a flood of messages")" ]

# SIGTERM while flooded
"$OTAHIL" run tests/robust/scenarios/mqtt_flood.lua --lab "$WORK/lab.lua" --report "$WORK/b" --timeout-multiplier "$M" \
  > "$WORK/b.txt" 2>&1 &
pid=$!
sleep 2
kill -TERM $pid
t0=$SECONDS
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
wait $pid
rc=$?
check "MQTT flood: SIGTERM stops otahil within 10 s ($((SECONDS - t0)) s), exit 1 (got $rc)" [ "$rc" -eq 1 ]
finish
