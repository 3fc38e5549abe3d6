#!/bin/bash
# End to end, HTTP: curl through netem-standalone --http to python3's http.server.
NETEM=${1:?usage: e2e_http.sh path/to/netem-standalone}
. "$(dirname "$0")/e2e_lib.sh"
start_http
CURL="curl -s --max-time 10"

# 1. no fault: every byte unchanged
start_netem plain --upstream 127.0.0.1:$HPORT --http
$CURL -o "$TMP/plain.bin" "http://127.0.0.1:$NETEM_PORT$URL_PATH" || fail "curl through the proxy: $?"
cmp -s "$TMP/plain.bin" "$TMP/www/fw/x.bin" || fail "bytes changed with no fault"
stop_netem
pass "no fault: identical"

# 2. cut at body byte N, FIN and RST: exactly N body bytes
for mode in fin rst; do
  spec="cut:body=40000"; [ $mode = rst ] && spec="$spec,rst"
  start_netem cut$mode --upstream 127.0.0.1:$HPORT --http --fault "$spec"
  rc=0; $CURL -o "$TMP/cut.bin" "http://127.0.0.1:$NETEM_PORT$URL_PATH" || rc=$?
  size=$(stat -c %s "$TMP/cut.bin")
  [ "$size" = 40000 ] || fail "$spec: got $size body bytes, want 40000"
  cmp -s "$TMP/cut.bin" <(head -c 40000 "$TMP/www/fw/x.bin") || fail "$spec: the 40000 bytes differ"
  [ $mode = fin ] && { [ $rc = 18 ] || fail "$spec: curl exit $rc, want 18 (partial file)"; }
  [ $mode = rst ] && { [ $rc = 56 ] || fail "$spec: curl exit $rc, want 56 (recv failure)"; }
  grep -q "action=$mode .*body_offset=40000" "$TMP/cut$mode.log" || fail "$spec: no fault event"
  stop_netem
  pass "$spec: exactly 40000 body bytes, curl exit $rc"
done

# 3. corrupt chosen body bytes: MD5 differs, headers identical, exactly those bytes changed
start_netem corrupt --upstream 127.0.0.1:$HPORT --http --fault corrupt:body=0,12345,1048575
$CURL -D "$TMP/h_proxy" -o "$TMP/corrupt.bin" "http://127.0.0.1:$NETEM_PORT$URL_PATH" || fail "curl corrupt: $?"
$CURL -D "$TMP/h_direct" -o /dev/null "http://127.0.0.1:$HPORT$URL_PATH" || fail "curl direct: $?"
[ "$(md5sum < "$TMP/corrupt.bin")" != "$(md5sum < "$TMP/www/fw/x.bin")" ] || fail "corrupt: MD5 unchanged"
diff <(grep -vi '^date:' "$TMP/h_proxy") <(grep -vi '^date:' "$TMP/h_direct") > /dev/null || fail "corrupt: headers differ"
changed=$(cmp -l "$TMP/corrupt.bin" "$TMP/www/fw/x.bin" | awk '{print $1-1}' | tr '\n' ' ')
[ "$changed" = "0 12345 1048575 " ] || fail "corrupt: changed offsets '$changed'"
[ "$(grep -c 'action=corrupt' "$TMP/corrupt.log")" = 3 ] || fail "corrupt: want 3 events"
stop_netem
pass "corrupt body 0,12345,1048575: MD5 differs, headers identical, exactly those bytes"

# 4. random corruption replays with the same seed
offsets() {
  start_netem "rand$1" --upstream 127.0.0.1:$HPORT --http --seed "$1" --fault corrupt:random=5,body
  $CURL -o "$TMP/r.bin" "http://127.0.0.1:$NETEM_PORT$URL_PATH" || fail "curl random: $?"
  stop_netem
  cmp -l "$TMP/r.bin" "$TMP/www/fw/x.bin" | awk '{printf "%s:%s ", $1-1, $2}'
}
a=$(offsets 42); b=$(offsets 42); c=$(offsets 43)
[ "$(echo $a | wc -w)" = 5 ] || fail "random=5 changed '$a'"
[ "$a" = "$b" ] || fail "same seed, different corruption: '$a' vs '$b'"
[ "$a" != "$c" ] || fail "another seed gave the same corruption"
pass "seed 42 twice: same 5 bytes ($a); seed 43 differs"
# 5. cut at a time: a slow stream is closed ~T ms after the fault was added, not before
cat > "$TMP/slow.py" <<'PY'
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4)
while True:
    c, _ = s.accept()
    try:
        c.recv(4096)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 400000\r\n\r\n")
        for i in range(400):  # 1000 bytes every 10 ms: 4 s for the whole body
            c.sendall(b"s" * 1000); time.sleep(0.01)
    except OSError: pass
    c.close()
PY
SPORT=$(free_port)
python3 "$TMP/slow.py" "$SPORT" > "$TMP/slow.log" 2>&1 &
PIDS+=($!)
wait_port "$SPORT"
T=300
start_netem timecut --upstream 127.0.0.1:$SPORT --http --fault "cut:ms=$T"
rc=0; $CURL -o "$TMP/slow.bin" "http://127.0.0.1:$NETEM_PORT/slow" || rc=$?
size=$(stat -c %s "$TMP/slow.bin")
[ $rc = 18 ] || fail "cut:ms=$T: curl exit $rc, want 18 (partial file: the stream was cut)"
[ "$size" -gt 0 ] && [ "$size" -lt 400000 ] || fail "cut:ms=$T: got $size body bytes"
# the proxy's event times: when the fault was added, when it cut
t_add=$(awk '/fault=1:cut action=added/ {print $1; exit}' "$TMP/timecut.log")
t_cut=$(awk '/fault=1:cut action=fin/ {print $1; exit}' "$TMP/timecut.log")
[ -n "$t_add" ] && [ -n "$t_cut" ] || fail "cut:ms=$T: events missing: $(cat "$TMP/timecut.log")"
ms=$(awk -v a="$t_cut" -v b="$t_add" 'BEGIN { printf "%d", (a - b) * 1000 }')
[ "$ms" -ge $T ] || fail "cut:ms=$T: cut after $ms ms, before its time"
[ "$ms" -lt $((T + 700)) ] || fail "cut:ms=$T: cut after $ms ms, long after its time"
stop_netem
pass "cut:ms=$T: the slow stream was cut $ms ms after the fault was added, with $size of 400000 body bytes"
# bad command lines are exit 2 (usage), not 3 (internal), and say why
cli_rc() { local rc=0; timeout 10 "$NETEM" "$@" > /dev/null 2> "$TMP/cli.err" || rc=$?; echo $rc; }
[ "$(cli_rc --listen localhost:0 --upstream 127.0.0.1:$SPORT --http)" = 2 ] ||
  fail "--listen localhost:0: want exit 2 ($(cat "$TMP/cli.err"))"
grep -q "not a numeric IP" "$TMP/cli.err" || fail "--listen localhost:0: $(cat "$TMP/cli.err")"
[ "$(cli_rc --listen 127.0.0.1:$SPORT --upstream 127.0.0.1:$SPORT --http)" = 2 ] ||
  fail "a port in use: want exit 2 ($(cat "$TMP/cli.err"))"
[ "$(cli_rc --listen 127.0.0.1:0 --upstream 127.0.0.1:$SPORT --fault --http)" = 2 ] ||
  fail "--fault without a SPEC: want exit 2"
grep -q "needs a SPEC" "$TMP/cli.err" || fail "--fault without a SPEC: $(cat "$TMP/cli.err")"
pass "bad command lines: exit 2 with the reason"
echo "e2e_http: all passed"
