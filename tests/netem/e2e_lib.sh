# Helpers for the netem end-to-end scripts: free ports, waits with deadlines, cleanup.
set -u
PIDS=()
TMP=$(mktemp -d /tmp/netem-e2e.XXXXXX)
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
. "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh" # free_port
# wait_port PORT: until something accepts on 127.0.0.1:PORT, at most 5 s
wait_port() {
  python3 - "$1" <<'PY' || fail "nothing listens on port $1 after 5 s"
import socket, sys, time
end = time.time() + 5
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close(); sys.exit(0)
    except OSError: time.sleep(0.05)
sys.exit(1)
PY
}
# start_netem NAME ARGS...: runs the proxy, output in $TMP/NAME.log, sets NETEM_PORT
start_netem() {
  local name=$1; shift
  "$NETEM" --listen 127.0.0.1:0 "$@" > "$TMP/$name.log" 2> "$TMP/$name.err" &
  NETEM_PID=$!
  PIDS+=("$NETEM_PID")
  local i
  for i in $(seq 100); do
    NETEM_PORT=$(awk 'NR==1 && $1=="listening" {split($2,a,":"); print a[2]}' "$TMP/$name.log")
    [ -n "$NETEM_PORT" ] && return 0
    kill -0 "$NETEM_PID" 2>/dev/null || break
    sleep 0.05
  done
  cat "$TMP/$name.err" >&2
  fail "netem $name did not start"
}
# stop_netem: SIGTERM, and the proxy must exit 0 (clean loop)
stop_netem() {
  kill -TERM "$NETEM_PID"
  local rc=0
  wait "$NETEM_PID" || rc=$?
  [ "$rc" = 0 ] || fail "netem exited $rc after SIGTERM"
}
# start_http: python3's http.server on a free port serving $TMP/www, with a 1 MiB random
# $TMP/www/fw/x.bin; sets HPORT and URL_PATH
start_http() {
  mkdir -p "$TMP/www/fw"
  head -c 1048576 /dev/urandom > "$TMP/www/fw/x.bin"
  HPORT=$(free_port)
  python3 -m http.server "$HPORT" --bind 127.0.0.1 --directory "$TMP/www" > "$TMP/http.log" 2>&1 &
  PIDS+=($!)
  wait_port "$HPORT"
  URL_PATH=/fw/x.bin
}
# start_mosquitto: a broker on a free 127.0.0.1 port, anonymous, no persistence; sets MPORT
start_mosquitto() {
  MPORT=$(free_port)
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$MPORT" > "$TMP/mosquitto.conf"
  mosquitto -c "$TMP/mosquitto.conf" > "$TMP/mosquitto.log" 2>&1 &
  PIDS+=($!)
  wait_port "$MPORT"
}
# make_pki OTAHIL: the test PKI (otahil tls certs) in $TMP/pki, set PKI
make_pki() {
  PKI=$TMP/pki
  "$1" tls certs --out "$PKI" localhost 127.0.0.1 ::1 > /dev/null || fail "otahil tls certs"
}
