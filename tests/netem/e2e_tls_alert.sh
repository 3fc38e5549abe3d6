#!/bin/bash
# End to end, a fatal TLS alert in the middle of the body (cut:body=N,alert[=NAME]): real
# curl --cacert through netem-standalone terminating TLS with the test PKI (otahil tls
# certs) to python3's http.server. curl must get exactly N body bytes, then fail with the
# alert it names; the proxy logs the fault; TLS 1.2 (no alert of our choice) is a plain cut.
NETEM=${1:?usage: e2e_tls_alert.sh path/to/netem-standalone path/to/otahil}
OTAHIL=${2:?usage: e2e_tls_alert.sh path/to/netem-standalone path/to/otahil}
. "$(dirname "$0")/e2e_lib.sh"
make_pki "$OTAHIL"
tls() { echo --tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key"; }
start_http

# alert [NAME] N WANT: curl's message must contain WANT (OpenSSL's text for the alert)
alert() {
  local name=$1 n=$2 want=$3 spec="cut:body=$2,alert" rc=0
  [ -n "$name" ] && spec="$spec=$name"
  start_netem "a$n" --upstream 127.0.0.1:$HPORT --http --fault "$spec" $(tls)
  timeout 15 curl -sS --max-time 10 --cacert "$PKI/ca.pem" -o "$TMP/a.bin" \
    "https://localhost:$NETEM_PORT$URL_PATH" 2> "$TMP/a.err" || rc=$?
  size=$(stat -c %s "$TMP/a.bin" 2>/dev/null || echo 0)
  [ "$size" = "$n" ] || fail "$spec: curl got $size body bytes, want $n"
  cmp -s "$TMP/a.bin" <(head -c "$n" "$TMP/www/fw/x.bin") || fail "$spec: the $n bytes differ"
  [ $rc = 56 ] || fail "$spec: curl exit $rc, want 56 (receive error): $(cat "$TMP/a.err")"
  grep -q "$want" "$TMP/a.err" || fail "$spec: curl says '$(cat "$TMP/a.err")', want '$want'"
  grep -q "fault=1:cut action=alert .*body_offset=$n (${name:-internal_error}, then FIN)" "$TMP/a$n.log" ||
    fail "$spec: no alert event: $(cat "$TMP/a$n.log")"
  stop_netem
  pass "$spec: exactly $n body bytes, curl exit 56: $(sed 's/.*routines:://; s/, errno.*//' "$TMP/a.err")"
}
alert "" 40000 "tlsv1 alert internal error"
alert bad_record_mac 123457 "alert bad record mac"
alert decode_error 1 "tlsv1 alert decode error"

# a second response on the same proxy is not touched (times=1), and the first gets it at 0
start_netem again --upstream 127.0.0.1:$HPORT --http --fault cut:body=0,alert=internal_error $(tls)
rc=0; timeout 15 curl -sS --max-time 10 --cacert "$PKI/ca.pem" -o "$TMP/b.bin" "https://127.0.0.1:$NETEM_PORT$URL_PATH" 2> "$TMP/b.err" || rc=$?
[ $rc = 56 ] && [ ! -s "$TMP/b.bin" ] || fail "body=0: curl exit $rc, $(stat -c %s "$TMP/b.bin") bytes"
timeout 15 curl -sS --max-time 10 --cacert "$PKI/ca.pem" -o "$TMP/b.bin" "https://127.0.0.1:$NETEM_PORT$URL_PATH" ||
  fail "the second download failed"
cmp -s "$TMP/b.bin" "$TMP/www/fw/x.bin" || fail "the second download differs"
stop_netem
pass "alert at body byte 0: no byte, then the next download is whole"

# TLS 1.2: no alert of the proxy's choice can be protected; the cut still happens, and says so
start_netem tls12 --upstream 127.0.0.1:$HPORT --http --fault cut:body=5000,alert $(tls)
rc=0; timeout 15 curl -sS --max-time 10 --tls-max 1.2 --cacert "$PKI/ca.pem" -o "$TMP/c.bin" \
  "https://127.0.0.1:$NETEM_PORT$URL_PATH" 2> "$TMP/c.err" || rc=$?
[ "$(stat -c %s "$TMP/c.bin")" = 5000 ] && [ $rc != 0 ] || fail "TLS 1.2: curl exit $rc, $(stat -c %s "$TMP/c.bin") bytes"
grep -q 'action=fin .*body_offset=5000 (no internal_error alert sent: TLSv1.2' "$TMP/tls12.log" ||
  fail "TLS 1.2: the event does not say why: $(cat "$TMP/tls12.log")"
stop_netem
pass "TLS 1.2: exactly 5000 bytes, a plain cut (curl exit $rc), the event says no alert was sent"

# bad uses are refused at once, with the reason
"$NETEM" --listen 127.0.0.1:0 --upstream 127.0.0.1:$HPORT --http --fault cut:body=10,alert > /dev/null 2> "$TMP/d.err" &&
  fail "an alert without --tls-cert was taken"
grep -q 'needs a proxy that terminates TLS' "$TMP/d.err" || fail "no TLS: '$(cat "$TMP/d.err")'"
"$NETEM" --listen 127.0.0.1:0 --upstream 127.0.0.1:$HPORT --http --fault cut:body=10,alert=nope $(tls) > /dev/null 2> "$TMP/e.err" &&
  fail "an unknown alert name was taken"
grep -q "bad value for alert: 'nope'" "$TMP/e.err" || fail "unknown alert: '$(cat "$TMP/e.err")'"
pass "refused: an alert without TLS, an unknown alert name"
echo "6 checks passed"
