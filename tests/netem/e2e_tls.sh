#!/bin/bash
# End to end, TLS: real clients (curl --cacert, mosquitto_pub/sub --cafile, openssl s_client)
# through netem-standalone terminating TLS with the test PKI (otahil tls certs), to plaintext
# upstreams (python3's http.server, mosquitto). The faults act on the plaintext, byte-exact.
NETEM=${1:?usage: e2e_tls.sh path/to/netem-standalone path/to/otahil}
OTAHIL=${2:?usage: e2e_tls.sh path/to/netem-standalone path/to/otahil}
. "$(dirname "$0")/e2e_lib.sh"
make_pki "$OTAHIL"
tls() { echo --tls-cert "$PKI/$1.pem" --tls-key "$PKI/$1.key"; }
start_http
CURL="curl -s --max-time 10 --cacert $PKI/ca.pem"

# 1. no fault: every byte unchanged, the certificate verifies for a name and both addresses
start_netem plain --upstream 127.0.0.1:$HPORT --http --progress 262144 $(tls server)
for host in localhost 127.0.0.1; do
  $CURL -o "$TMP/plain.bin" "https://$host:$NETEM_PORT$URL_PATH" || fail "curl https://$host: exit $?"
  cmp -s "$TMP/plain.bin" "$TMP/www/fw/x.bin" || fail "https://$host: bytes changed with no fault"
done
grep -q 'request conn=1 dir=up msg=0 GET /fw/x.bin' "$TMP/plain.log" || fail "no plaintext request event"
grep -q 'progress conn=0 delivered=2097152' "$TMP/plain.log" || fail "body progress not counted in plaintext bytes"
stop_netem
pass "https, no fault: identical, request seen, 2 x 1 MiB body counted"

# 2. cut at body byte N, FIN and RST: exactly N body bytes reach curl through TLS
for mode in fin rst; do
  spec="cut:body=40000"; [ $mode = rst ] && spec="$spec,rst"
  start_netem cut$mode --upstream 127.0.0.1:$HPORT --http --fault "$spec" $(tls server)
  rc=0; $CURL -o "$TMP/cut.bin" "https://127.0.0.1:$NETEM_PORT$URL_PATH" || rc=$?
  size=$(stat -c %s "$TMP/cut.bin")
  [ "$size" = 40000 ] || fail "https $spec: got $size body bytes, want 40000"
  cmp -s "$TMP/cut.bin" <(head -c 40000 "$TMP/www/fw/x.bin") || fail "https $spec: the 40000 bytes differ"
  [ $rc != 0 ] || fail "https $spec: curl exit 0 after a cut"
  grep -q "action=$mode .*body_offset=40000" "$TMP/cut$mode.log" || fail "https $spec: no fault event"
  stop_netem
  pass "https $spec: exactly 40000 body bytes, curl exit $rc"
done

# 3. corrupt chosen body bytes: exactly those change, the headers do not
start_netem corrupt --upstream 127.0.0.1:$HPORT --http --fault corrupt:body=0,12345,1048575 $(tls server)
$CURL -D "$TMP/h_proxy" -o "$TMP/corrupt.bin" "https://127.0.0.1:$NETEM_PORT$URL_PATH" || fail "curl corrupt: $?"
curl -s --max-time 10 -D "$TMP/h_direct" -o /dev/null "http://127.0.0.1:$HPORT$URL_PATH" || fail "curl direct: $?"
diff <(grep -vi '^date:' "$TMP/h_proxy") <(grep -vi '^date:' "$TMP/h_direct") > /dev/null || fail "corrupt: headers differ"
changed=$(cmp -l "$TMP/corrupt.bin" "$TMP/www/fw/x.bin" | awk '{print $1-1}' | tr '\n' ' ')
[ "$changed" = "0 12345 1048575 " ] || fail "https corrupt: changed offsets '$changed'"
stop_netem
pass "https corrupt body 0,12345,1048575: exactly those bytes, headers identical"

# 4. the wrong certificates: s_client sees them, curl refuses them
verify_code() { # LEAF HOST -> s_client's "Verify return code"
  start_netem "bad$1" --upstream 127.0.0.1:$HPORT --http $(tls "$1")
  echo | timeout 5 openssl s_client -connect "127.0.0.1:$NETEM_PORT" -CAfile "$PKI/ca.pem" \
    -verify_hostname "$2" -servername "$2" 2>/dev/null | sed -n 's/^ *Verify return code: //p' | head -1
  rc=0; $CURL -o /dev/null "https://$2:$NETEM_PORT$URL_PATH" || rc=$?
  [ $rc = 60 ] || fail "$1: curl exit $rc, want 60 (peer certificate cannot be authenticated)"
  stop_netem
}
[ "$(verify_code expired localhost)" = "10 (certificate has expired)" ] || fail "expired: $(verify_code expired localhost)"
[ "$(verify_code wrongname localhost)" = "62 (hostname mismatch)" ] || fail "wrongname: $(verify_code wrongname localhost)"
u=$(verify_code untrusted localhost)
case "$u" in 2\ *|20\ *|21\ *) ;; *) fail "untrusted: '$u'";; esac
start_netem good --upstream 127.0.0.1:$HPORT --http $(tls server)
v=$(echo | timeout 5 openssl s_client -connect "127.0.0.1:$NETEM_PORT" -CAfile "$PKI/ca.pem" -verify_hostname localhost 2>/dev/null | sed -n 's/^ *Verify return code: //p' | head -1)
[ "$v" = "0 (ok)" ] || fail "server: s_client says '$v'"
stop_netem
pass "s_client: expired -> 10, wrong name -> 62, untrusted -> '$u', the good one 0; curl exit 60 for each bad one"

# 5. handshake faults: a stalled handshake times the client out, a cut one fails at once
start_netem hsstall --upstream 127.0.0.1:$HPORT --http $(tls server) --tls-handshake stall
rc=0; curl -s --max-time 1 --cacert "$PKI/ca.pem" -o "$TMP/hs.bin" "https://127.0.0.1:$NETEM_PORT$URL_PATH" || rc=$?
[ $rc = 28 ] || fail "handshake stall: curl exit $rc, want 28 (timeout)"
[ ! -s "$TMP/hs.bin" ] || fail "handshake stall: body bytes arrived"
grep -q 'fault=0:tls-handshake action=stall' "$TMP/hsstall.log" || fail "handshake stall: no event"
grep -q 'request conn=' "$TMP/hsstall.log" && fail "handshake stall: a request reached the upstream"
stop_netem
for mode in fin rst; do
  start_netem hs$mode --upstream 127.0.0.1:$HPORT --http $(tls server) --tls-handshake $mode
  rc=0; $CURL -o /dev/null "https://127.0.0.1:$NETEM_PORT$URL_PATH" || rc=$?
  [ $rc = 35 ] || [ $rc = 56 ] || fail "handshake $mode: curl exit $rc, want 35 or 56 (TLS connect / recv error)"
  grep -q "tls-handshake action=$mode" "$TMP/hs$mode.log" || fail "handshake $mode: no event"
  grep -q 'cut during the handshake' "$TMP/hs$mode.log" || fail "handshake $mode: no close reason"
  stop_netem
  pass "handshake $mode: curl exit $rc, the close logged"
done
pass "handshake stall: curl timed out with no byte, no request reached the upstream"

# 6. MQTT over TLS: a dropped topic is not delivered, others are
start_mosquitto
MQ="--cafile $PKI/ca.pem -h localhost"
for v in mqttv311 mqttv5; do
  start_netem mdrop$v --upstream 127.0.0.1:$MPORT --mqtt --fault 'mqtt-drop:topic=$ota/update/+/+' $(tls server)
  timeout 8 mosquitto_sub -V $v $MQ -p "$NETEM_PORT" -t '$ota/#' -t 'a/#' -v -C 2 -W 6 > "$TMP/sub.txt" &
  SUB=$!
  sleep 0.5
  timeout 5 mosquitto_pub -V $v $MQ -p "$NETEM_PORT" -t '$ota/update/prod/dev1' -m dropped || fail "$v: pub over TLS"
  timeout 5 mosquitto_pub -V $v $MQ -p "$NETEM_PORT" -t 'a/keep' -m kept
  timeout 5 mosquitto_pub -V $v $MQ -p "$NETEM_PORT" -t '$ota/report/prod/dev1' -m also-kept
  wait $SUB || fail "$v: subscriber did not get 2 messages over TLS: $(cat "$TMP/sub.txt")"
  grep -q dropped "$TMP/sub.txt" && fail "$v: the dropped topic was delivered"
  grep -qx 'a/keep kept' "$TMP/sub.txt" || fail "$v: a/keep missing"
  grep -q 'action=drop .*topic=$ota/update/prod/dev1' "$TMP/mdrop$v.log" || fail "$v: no drop event"
  stop_netem
  pass "mqtts $v: \$ota/update/+/+ dropped, other topics delivered"
done
# a client that does not trust the CA never gets through, and the proxy says why
start_netem mbad --upstream 127.0.0.1:$MPORT --mqtt $(tls untrusted)
timeout 5 mosquitto_pub $MQ -p "$NETEM_PORT" -t a/x -m no 2> "$TMP/pub.err" && fail "mosquitto_pub trusted an untrusted CA"
sleep 0.2
grep -q 'close conn=1 .*(tls handshake: ' "$TMP/mbad.log" || fail "no handshake failure event: $(cat "$TMP/mbad.log")"
stop_netem
pass "mqtts, untrusted CA: mosquitto_pub refuses, the proxy logs the handshake failure"

# 7. the other side: the proxy as a TLS client of its upstream (--upstream-ca), verifying it
SPORT=$(free_port)
cp "$PKI/server.key" "$TMP/broker.key" && chmod 0644 "$TMP/broker.key" # mosquitto may drop to another user
printf 'user %s\nlistener %s 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\nallow_anonymous true\npersistence false\n' \
  "$(id -un)" "$SPORT" "$PKI/ca.pem" "$PKI/server.pem" "$TMP/broker.key" > "$TMP/mosquitto_tls.conf"
mosquitto -c "$TMP/mosquitto_tls.conf" > "$TMP/mosquitto_tls.log" 2>&1 &
PIDS+=($!)
wait_port "$SPORT"
start_netem up --upstream 127.0.0.1:$SPORT --mqtt --upstream-ca "$PKI/ca.pem" --fault 'mqtt-drop:topic=drop/+'
timeout 8 mosquitto_sub -h 127.0.0.1 -p "$NETEM_PORT" -t 'keep/#' -t 'drop/#' -v -C 1 -W 6 > "$TMP/usub.txt" &
SUB=$!
sleep 0.5
timeout 5 mosquitto_pub -h 127.0.0.1 -p "$NETEM_PORT" -t drop/x -m dropped || fail "plain pub through a TLS upstream"
timeout 5 mosquitto_pub -h 127.0.0.1 -p "$NETEM_PORT" -t keep/x -m kept
wait $SUB || fail "upstream TLS: the subscriber got nothing: $(cat "$TMP/usub.txt")"
grep -qx 'keep/x kept' "$TMP/usub.txt" || fail "upstream TLS: got '$(cat "$TMP/usub.txt")'"
grep -q 'action=drop .*topic=drop/x' "$TMP/up.log" || fail "upstream TLS: the fault did not see the plaintext"
stop_netem
start_netem upbad --upstream 127.0.0.1:$SPORT --mqtt --upstream-ca "$PKI/untrusted.pem"
timeout 5 mosquitto_pub -h 127.0.0.1 -p "$NETEM_PORT" -t keep/x -m no 2> /dev/null && fail "a broker the CA does not verify was used"
sleep 0.2
grep -q 'close conn=1 .*(upstream tls handshake: .*certificate verify failed' "$TMP/upbad.log" ||
  fail "upstream TLS, wrong CA: no reason logged: $(cat "$TMP/upbad.log")"
stop_netem
pass "upstream TLS (--upstream-ca): plaintext view and faults in between, a wrong CA refused with the reason"
