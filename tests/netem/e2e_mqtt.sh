#!/bin/bash
# End to end, MQTT: mosquitto_pub/mosquitto_sub through netem-standalone --mqtt to a
# mosquitto broker on a free port with a generated config.
NETEM=${1:?usage: e2e_mqtt.sh path/to/netem-standalone}
. "$(dirname "$0")/e2e_lib.sh"
MPORT=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$MPORT" > "$TMP/mosquitto.conf"
mosquitto -c "$TMP/mosquitto.conf" > "$TMP/mosquitto.log" 2>&1 &
PIDS+=($!)
wait_port "$MPORT"

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
echo "e2e_mqtt: all passed"
