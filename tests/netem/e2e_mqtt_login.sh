#!/bin/bash
# End to end, the standalone proxy's login hold (otahil netem --login-hold MS, --login-refuse
# WHAT): real mosquitto_pub through netem-standalone to a real mosquitto. A held CONNECT
# reaches the broker only after MS ms, unchanged; a refused one gets the CONNACK asked for
# (mosquitto_pub's exit code is the CONNACK code) and the broker never sees it; each login
# and its decision are events ("login", "login-done").
NETEM=${1:?usage: e2e_mqtt_login.sh path/to/netem-standalone}
. "$(dirname "$0")/e2e_lib.sh"
start_mosquitto
now() { date +%s%N; }
# sub_direct NAME [SECS]: a subscriber on the broker itself (not held), up to 1 message in SECS (6) s
sub_direct() {
  timeout 8 mosquitto_sub -h 127.0.0.1 -p "$MPORT" -t 'login/#' -v -C 1 -W "${2:-6}" > "$TMP/$1.sub" 2>/dev/null &
  SUB=$!
  sleep 0.3
}

# 1. --login-hold 800: the CONNECT waits 800 ms, then goes on unchanged (user name and all)
start_netem hold --upstream 127.0.0.1:$MPORT --mqtt --login-hold 800
sub_direct hold
t0=$(now)
timeout 10 mosquitto_pub -h 127.0.0.1 -p "$NETEM_PORT" -i dev-1 -u user-1 -P secret -t login/a -m held ||
  fail "hold: mosquitto_pub exit $?"
ms=$(( ($(now) - t0) / 1000000 ))
wait $SUB || fail "hold: the message never reached the broker"
grep -qx 'login/a held' "$TMP/hold.sub" || fail "hold: the broker got '$(cat "$TMP/hold.sub")'"
[ "$ms" -ge 800 ] && [ "$ms" -lt 5000 ] || fail "hold: mosquitto_pub took $ms ms, want 800..5000"
grep -q 'login conn=1 dir=up client_id=dev-1 username=user-1' "$TMP/hold.log" || fail "hold: no login event: $(cat "$TMP/hold.log")"
grep -q 'login-done conn=1 dir=up accept (otahil netem: held 800 ms' "$TMP/hold.log" || fail "hold: no accept event"
stop_netem
pass "--login-hold 800: delivered after $ms ms, the login and its acceptance logged"

# 2. --login-refuse: the CONNACK asked for, for 3.1.1 and 5; the broker sees nothing
refuse() { # refuse WHAT VERSION WANT_CODE [MORE ARGS]
  local what=$1 v=$2 want=$3 rc=0 t0 ms; shift 3
  start_netem "r$what$v" --upstream 127.0.0.1:$MPORT --mqtt --login-refuse "$what" "$@"
  sub_direct "r$what$v" 2 # a message would be there long before
  t0=$(now)
  timeout 10 mosquitto_pub -V "$v" -h 127.0.0.1 -p "$NETEM_PORT" -i dev-2 -t login/b -m refused 2> "$TMP/pub.err" || rc=$?
  ms=$(( ($(now) - t0) / 1000000 ))
  [ "$rc" = "$want" ] || fail "refuse $what $v: mosquitto_pub exit $rc, want $want: $(cat "$TMP/pub.err")"
  wait $SUB && fail "refuse $what $v: the broker got '$(cat "$TMP/r$what$v.sub")'"
  grep -q "login-done conn=1 dir=up refuse code=$want " "$TMP/r$what$v.log" || fail "refuse $what $v: no refuse event"
  stop_netem
  pass "--login-refuse $what${*:+ $*}, $v: CONNACK $want after $ms ms ($(head -1 "$TMP/pub.err")), nothing reached the broker"
}
refuse bad-credentials mqttv311 4
refuse bad-credentials mqttv5 134
refuse not-authorized mqttv311 5
refuse 3 mqttv311 3 --login-hold 400
[ "$ms" -ge 400 ] || fail "--login-refuse after --login-hold 400 came after $ms ms"

# 3. bad command lines: exit 2 with the reason
"$NETEM" --listen 127.0.0.1:0 --upstream 127.0.0.1:$MPORT --http --login-hold 10 > /dev/null 2> "$TMP/e1" &&
  fail "--login-hold without --mqtt was taken"
grep -q 'need --mqtt' "$TMP/e1" || fail "no --mqtt: '$(cat "$TMP/e1")'"
"$NETEM" --listen 127.0.0.1:0 --upstream 127.0.0.1:$MPORT --mqtt --login-refuse 0 > /dev/null 2> "$TMP/e2" &&
  fail "--login-refuse 0 was taken"
grep -q "want bad-credentials, not-authorized or a code 1..255" "$TMP/e2" || fail "code 0: '$(cat "$TMP/e2")'"
pass "refused: --login-hold without --mqtt, --login-refuse 0"
