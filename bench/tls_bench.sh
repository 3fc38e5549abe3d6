#!/bin/bash
# tls_bench: prints figures for TLS termination (not a test).
#   1. throughput of a 256 MiB HTTPS download (curl --cacert) through netem's
#      TLS-terminating proxy in front of otahil's firmware server (bench/fw_serve), as a
#      scenario has it, against the same download straight from a TLS server
#      (openssl s_server -WWW) and through HAProxy terminating TLS in front of the same
#      firmware server (mode tcp: a relay, as netem is): medians of interleaved rounds,
#      as ratios;
#   2. full handshakes per second (openssl s_time -new, 3 s) against each.
# The certificates are the test PKI's (otahil tls certs), EC P-256, TLS 1.3.
# usage: bench/tls_bench.sh BUILD_DIR [MiB=256] [ROUNDS=3]   (HAProxy: apt-get install haproxy)
set -u
B=$(cd "${1:?usage: tls_bench.sh BUILD_DIR [MiB] [ROUNDS]}" && pwd)
MIB=${2:-256}
ROUNDS=${3:-3}
T=$(mktemp -d /tmp/tls-bench.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_line() { # wait_line FILE PATTERN: the first matching line, at most 5 s
  local i; for i in $(seq 100); do grep -m1 "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "tls_bench: no '$2' in $1: $(cat "$1")" >&2; exit 3
}
wait_port() {
  local i; for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done
  echo "tls_bench: nothing listens on $1" >&2; exit 3
}

"$B/otahil" tls certs --out "$T/pki" localhost 127.0.0.1 > /dev/null || exit 3
head -c $((MIB << 20)) /dev/urandom > "$T/bench.bin"

"$B/bench/fw_serve" "$T/bench.bin" > "$T/fw.log" 2>&1 &
PIDS+=($!)
FW=$(wait_line "$T/fw.log" '^listening' | sed 's/.*://')

"$B/netem/netem-standalone" --listen 127.0.0.1:0 --upstream 127.0.0.1:$FW --http --quiet \
  --tls-cert "$T/pki/server.pem" --tls-key "$T/pki/server.key" > "$T/netem.log" 2>&1 &
PIDS+=($!)
NETEM=$(wait_line "$T/netem.log" '^listening' | awk '{split($2,a,":"); print a[2]}')

SSRV=$(free_port)
(cd "$T" && exec openssl s_server -quiet -WWW -accept "$SSRV" -cert pki/server.pem -key pki/server.key) > "$T/s_server.log" 2>&1 &
PIDS+=($!)
wait_port "$SSRV"

HAP=""
if command -v haproxy > /dev/null; then
  HAP=$(free_port)
  cat "$T/pki/server.pem" "$T/pki/server.key" > "$T/pki/haproxy.pem"
  cat > "$T/haproxy.cfg" <<CFG
global
  maxconn 2000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend tls
  bind 127.0.0.1:$HAP ssl crt $T/pki/haproxy.pem
  default_backend fw
backend fw
  server fw 127.0.0.1:$FW
CFG
  haproxy -f "$T/haproxy.cfg" -db > "$T/haproxy.log" 2>&1 &
  PIDS+=($!)
  wait_port "$HAP"
fi

get() { # get URL -> bytes/s (fails the bench on a short or failed download)
  local out
  out=$(curl -s --max-time 120 --cacert "$T/pki/ca.pem" -o /dev/null -w '%{size_download} %{speed_download}' "$1") || {
    echo "tls_bench: curl $1 failed" >&2; exit 3; }
  [ "${out% *}" = $((MIB << 20)) ] || { echo "tls_bench: $1: got ${out% *} bytes" >&2; exit 3; }
  echo "${out#* }"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A speeds
paths="proxy direct"
[ -n "$HAP" ] && paths="$paths haproxy"
for r in $(seq "$ROUNDS"); do
  speeds[proxy]+="$(get "https://127.0.0.1:$NETEM/fw/bench") "
  speeds[direct]+="$(get "https://127.0.0.1:$SSRV/bench.bin") "
  [ -n "$HAP" ] && speeds[haproxy]+="$(get "https://127.0.0.1:$HAP/fw/bench") "
done
echo "tls_bench: $MIB MiB over HTTPS, median of $ROUNDS interleaved rounds (curl --cacert, loopback)"
declare -A med
for p in $paths; do
  med[$p]=$(echo "${speeds[$p]}" | tr ' ' '\n' | grep . | median)
  printf '  %-8s %8.1f MiB/s   (rounds: %s)\n' "$p" "$(echo "${med[$p]} / 1048576" | bc -l)" \
    "$(for s in ${speeds[$p]}; do printf '%.0f ' "$(echo "$s / 1048576" | bc -l)"; done)"
done
printf '  ratio proxy/direct  %.2f\n' "$(echo "${med[proxy]} / ${med[direct]}" | bc -l)"
[ -n "$HAP" ] && printf '  ratio proxy/haproxy %.2f\n' "$(echo "${med[proxy]} / ${med[haproxy]}" | bc -l)"

hs() { # hs PORT -> full handshakes per second over 3 s
  openssl s_time -connect "127.0.0.1:$1" -new -time 3 -CAfile "$T/pki/ca.pem" 2>/dev/null |
    awk '/connections in [0-9]+ real seconds/ {printf "%.0f", $1 / $4; exit}'
}
echo "tls_bench: full handshakes per second (openssl s_time -new, 3 s, one client)"
printf '  %-8s %6s /s\n' proxy "$(hs "$NETEM")" direct "$(hs "$SSRV")"
[ -n "$HAP" ] && printf '  %-8s %6s /s\n' haproxy "$(hs "$HAP")"
exit 0
