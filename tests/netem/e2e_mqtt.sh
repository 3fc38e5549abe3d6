#!/bin/bash
# End to end, MQTT: mosquitto_pub/mosquitto_sub through netem-standalone --mqtt to a
# mosquitto broker on a free port with a generated config.
NETEM=${1:?usage: e2e_mqtt.sh path/to/netem-standalone}
. "$(dirname "$0")/e2e_lib.sh"
start_mosquitto

# 1. a dropped topic is not delivered, others are (3.1.1 and 5)
for v in mqttv311 mqttv5; do
  start_netem drop$v --upstream 127.0.0.1:$MPORT --mqtt --fault 'mqtt-drop:topic=$ota/update/+/+'
  timeout 8 mosquitto_sub -V $v -h 127.0.0.1 -p "$NETEM_PORT" -t '$ota/#' -t 'a/#' -v -C 2 -W 6 > "$TMP/sub.txt" &
  SUB=$!
  sleep 0.5
  # QoS 0: a dropped QoS 1 PUBLISH is never acknowledged, so the publisher would wait
  timeout 5 mosquitto_pub -V $v -h 127.0.0.1 -p "$NETEM_PORT" -t '$ota/update/prod/dev1' -m dropped
  timeout 5 mosquitto_pub -V $v -h 127.0.0.1 -p "$NETEM_PORT" -t 'a/keep' -m kept
  timeout 5 mosquitto_pub -V $v -h 127.0.0.1 -p "$NETEM_PORT" -t '$ota/report/prod/dev1' -m also-kept
  wait $SUB || fail "$v: subscriber did not get 2 messages: $(cat "$TMP/sub.txt")"
  grep -q dropped "$TMP/sub.txt" && fail "$v: the dropped topic was delivered"
  grep -qx 'a/keep kept' "$TMP/sub.txt" || fail "$v: a/keep missing"
  grep -qx '$ota/report/prod/dev1 also-kept' "$TMP/sub.txt" || fail "$v: \$ota/report missing"
  grep -q 'action=drop .*topic=$ota/update/prod/dev1' "$TMP/drop$v.log" || fail "$v: no drop event"
  stop_netem
  pass "$v: \$ota/update/+/+ dropped, other topics delivered"
done

# 2. same seed -> same corrupted payload offsets
corrupt_run() {
  start_netem "c$1" --upstream 127.0.0.1:$MPORT --mqtt --seed "$1" --fault 'mqtt-corrupt:topic=fw/#,random=4,dir=up'
  timeout 8 mosquitto_sub -h 127.0.0.1 -p "$MPORT" -t 'fw/#' -C 1 -W 6 > "$TMP/csub.txt" &
  SUB=$!
  sleep 0.5
  timeout 5 mosquitto_pub -h 127.0.0.1 -p "$NETEM_PORT" -t fw/chunk -m "0123456789abcdefghijklmnopqrstuvwxyz"
  wait $SUB || fail "corrupt: nothing delivered"
  stop_netem
  [ "$(cat "$TMP/csub.txt")" != "0123456789abcdefghijklmnopqrstuvwxyz" ] || fail "corrupt: payload unchanged"
  grep 'action=corrupt' "$TMP/c$1.log" | sed 's/^ *[0-9.]* //; s/conn=[0-9]* //' | tr '\n' ';'
}
a=$(corrupt_run 42); b=$(corrupt_run 42); c=$(corrupt_run 7)
[ "$(echo "$a" | tr ';' '\n' | grep -c corrupt)" = 4 ] || fail "want 4 corrupt events: $a"
[ "$a" = "$b" ] || fail "same seed, different corruption: $a / $b"
[ "$a" != "$c" ] || fail "another seed gave the same corruption"
pass "mqtt-corrupt: seed 42 twice gives the same offsets, seed 7 others"

# 3. cut the connection after the 2nd matching PUBLISH
start_netem cut --upstream 127.0.0.1:$MPORT --mqtt --fault 'mqtt-cut:topic=x/#,nth=2,dir=down'
timeout 8 mosquitto_sub -h 127.0.0.1 -p "$NETEM_PORT" -t 'x/#' -C 3 -W 3 > "$TMP/xsub.txt" 2>&1 &
SUB=$!
sleep 0.5
for i in 1 2 3; do timeout 5 mosquitto_pub -h 127.0.0.1 -p "$MPORT" -t x/y -m "m$i"; sleep 0.1; done
wait $SUB
grep -q '^m2$' "$TMP/xsub.txt" || fail "mqtt-cut: the 2nd message should be delivered before the cut"
grep -q '^m3$' "$TMP/xsub.txt" && fail "mqtt-cut: a message after the cut was delivered"
grep -q 'fault=1:mqtt-cut action=fin' "$TMP/cut.log" || fail "mqtt-cut: no event"
stop_netem
pass "mqtt-cut nth=2: m1, m2 delivered, then the connection closed"
# 4. mqtt-delay: a matching PUBLISH arrives at least D ms after it was sent, others at once
D=1200
start_netem delay --upstream 127.0.0.1:$MPORT --mqtt --fault "mqtt-delay:topic=slow/#,ms=$D"
timeout 10 mosquitto_sub -h 127.0.0.1 -p "$NETEM_PORT" -t 'slow/#' -t 'fast/#' -F '%U %t %p' -C 2 -W 8 \
  > "$TMP/dsub.txt" &
SUB=$!
sleep 0.5
t0=$(date +%s.%N)
timeout 5 mosquitto_pub -h 127.0.0.1 -p "$MPORT" -t slow/x -m late   # direct to the broker:
timeout 5 mosquitto_pub -h 127.0.0.1 -p "$MPORT" -t fast/x -m now    # the proxy delays the way down
wait $SUB || fail "mqtt-delay: the subscriber did not get both messages: $(cat "$TMP/dsub.txt")"
t_slow=$(awk '$2=="slow/x" {print $1}' "$TMP/dsub.txt")
t_fast=$(awk '$2=="fast/x" {print $1}' "$TMP/dsub.txt")
[ -n "$t_slow" ] && [ -n "$t_fast" ] || fail "mqtt-delay: got $(cat "$TMP/dsub.txt")"
[ "$(head -1 "$TMP/dsub.txt" | cut -d' ' -f2)" = fast/x ] || fail "mqtt-delay: fast/x did not overtake slow/x"
awk -v a="$t_slow" -v b="$t0" -v d="$D" 'BEGIN { exit !((a - b) * 1000 >= d) }' ||
  fail "mqtt-delay: slow/x arrived $(awk -v a="$t_slow" -v b="$t0" 'BEGIN{print (a-b)*1000}') ms after it was sent, want >= $D"
awk -v a="$t_fast" -v b="$t0" -v d="$D" 'BEGIN { exit !((a - b) * 1000 < d / 2) }' ||
  fail "mqtt-delay: fast/x was delayed too ($(awk -v a="$t_fast" -v b="$t0" 'BEGIN{print (a-b)*1000}') ms)"
grep -q 'fault=1:mqtt-delay action=delay .*topic=slow/x' "$TMP/delay.log" || fail "mqtt-delay: no event"
grep -q 'action=delay .*topic=fast' "$TMP/delay.log" && fail "mqtt-delay: fast/x was held"
stop_netem
pass "mqtt-delay ms=$D: slow/x $(awk -v a="$t_slow" -v b="$t0" 'BEGIN{printf "%d", (a-b)*1000}') ms after sending, fast/x $(awk -v a="$t_fast" -v b="$t0" 'BEGIN{printf "%d", (a-b)*1000}') ms"

# 5. mqtt-dup: a matching PUBLISH is delivered twice, others once (QoS 0 and QoS 1, v3.1.1 and 5)
for case in "mqttv311 0" "mqttv5 1"; do
  set -- $case
  start_netem "dup$1" --upstream 127.0.0.1:$MPORT --mqtt --fault 'mqtt-dup:topic=dup/#,dir=down'
  # -C 4: three arrive (one/y once, dup/x twice); a fourth would be a duplicate too many
  timeout 10 mosquitto_sub -V "$1" -q "$2" -h 127.0.0.1 -p "$NETEM_PORT" -t 'dup/#' -t 'one/#' -v -C 4 -W 3 \
    > "$TMP/dupsub.txt" &
  SUB=$!
  sleep 0.5
  timeout 5 mosquitto_pub -V "$1" -q "$2" -h 127.0.0.1 -p "$MPORT" -t one/y -m once
  timeout 5 mosquitto_pub -V "$1" -q "$2" -h 127.0.0.1 -p "$MPORT" -t dup/x -m twice
  wait $SUB   # ends by -W: only three messages come
  [ "$(grep -cx 'dup/x twice' "$TMP/dupsub.txt")" = 2 ] || fail "mqtt-dup $1 qos $2: dup/x not twice: $(cat "$TMP/dupsub.txt")"
  [ "$(grep -cx 'one/y once' "$TMP/dupsub.txt")" = 1 ] || fail "mqtt-dup $1 qos $2: one/y not once: $(cat "$TMP/dupsub.txt")"
  [ "$(wc -l < "$TMP/dupsub.txt")" = 3 ] || fail "mqtt-dup $1 qos $2: want 3 messages: $(cat "$TMP/dupsub.txt")"
  [ "$(grep -c 'action=duplicate .*topic=dup/x' "$TMP/dup$1.log")" = 1 ] || fail "mqtt-dup $1: want one event"
  stop_netem
  pass "mqtt-dup $1 QoS $2: dup/x delivered twice, one/y once"
done
echo "e2e_mqtt: all passed"
