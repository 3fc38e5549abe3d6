# Shared by the UART end-to-end tests (sourced after tests/e2e/lib.sh): Debian's
# ser2net sharing a board's pty on 127.0.0.1, stopped when the test ends; a
# test without ser2net installed fails at once.
S2N_PIDS=()
stop_ser2net() {
  for p in "${S2N_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${S2N_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  S2N_PIDS=()
}
trap 'stop_ser2net; cleanup' EXIT

if ! command -v ser2net > /dev/null; then
  not_ok "ser2net is installed (scripts/install-deps installs it)"
  finish
  exit 1
fi

. "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh" # free_port

# start_ser2net NAME ACCEPTER PORT LINK: shares the terminal LINK on
# 127.0.0.1:PORT through ser2net's ACCEPTER (tcp, telnet, telnet(rfc2217));
# S2N_LAST is its pid. Fails when nothing listens within 5 s.
start_ser2net() {
  cat > "$WORK/$1.yaml" <<YAML
connection: &$1
  accepter: $2,127.0.0.1,$3
  connector: serialdev,$4,115200n81,local
  options:
    kickolduser: true
YAML
  ser2net -n -d -c "$WORK/$1.yaml" -P "$WORK/$1.pid" >> "$WORK/$1.log" 2>&1 &
  S2N_PIDS+=($!)
  S2N_LAST=$!
  # wait for it to listen without connecting: with kickolduser, a probe
  # connection would kick a console that reconnected first (a second gap)
  for _ in $(seq 100); do
    listening "$3" && return 0
    sleep 0.05
  done
  return 1
}

# listening PORT: something listens on 127.0.0.1:PORT (read from /proc/net/tcp)
listening() {
  python3 - "$1" <<'PY'
import sys
want = "%04X" % int(sys.argv[1])
for line in open("/proc/net/tcp").readlines()[1:]:
    f = line.split()
    if f[1].endswith(":" + want) and f[3] == "0A":
        sys.exit(0)
sys.exit(1)
PY
}
