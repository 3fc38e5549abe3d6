#!/usr/bin/env bash
# --broker mqtts://host:port: an external broker over TLS. A real mosquitto with only a
# TLS listener on 127.0.0.1 (certificates from `otahil tls certs`): standard qcloud
# scenarios PASS through it (the cloud's clients and the device's MQTT proxy both speak
# TLS to it, verifying it against --broker-ca); a wrong CA, an unreadable one, a plain
# listener asked for TLS, and --broker-ca without mqtts are each one clear line, exit 2,
# within seconds; mqtt:// to a plain listener is unchanged.
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}
PKI=$WORK/pki
"$OTAHIL" tls certs --out "$PKI" localhost 127.0.0.1 > /dev/null || { not_ok "otahil tls certs"; finish; exit; }
chmod 0644 "$PKI/server.key" # mosquitto may read it as another user
TPORT=$(free_port)
PPORT=$(free_port)
cat > "$WORK/mosquitto.conf" <<CONF
user $(id -un)
per_listener_settings true
listener $TPORT 127.0.0.1
cafile $PKI/ca.pem
certfile $PKI/server.pem
keyfile $PKI/server.key
allow_anonymous true
listener $PPORT 127.0.0.1
allow_anonymous true
log_type error
log_type notice
log_dest stderr
CONF
mosquitto -c "$WORK/mosquitto.conf" 2> "$WORK/mosquitto.log" &
BROKER_PID=$!
trap 'kill $BROKER_PID 2>/dev/null; wait $BROKER_PID 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do
  timeout 2 mosquitto_pub -h 127.0.0.1 -p "$TPORT" --cafile "$PKI/ca.pem" -t probe -m x 2> /dev/null && break
  sleep 0.05
done
now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }
below() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$1" "$2"; }
SEL=(--filter 'qcloud/0[1237]_*@emu-qcloud' --lab lab/emulated.lua --timeout-multiplier "$M")

# 1. four standard qcloud scenarios over mqtts, verified against the run's CA
timeout -k 5 200 "$OTAHIL" run scenarios/qcloud "${SEL[@]}" --broker "mqtts://127.0.0.1:$TPORT" \
  --broker-ca "$PKI/ca.pem" --report "$WORK/good" > "$WORK/good.txt" 2>&1
rc=$?
check "mqtts broker: exit 0 (got $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || tail -20 "$WORK/good.txt"
check "mqtts broker: 4 cases, all PASS" [ "$(outcome "$WORK/good" '*')" = "PASS PASS PASS PASS" ]
check "the device's reports reached the cloud (through the proxy, TLS to the broker)" \
  grep -q 'mqtt.in .*report_progress' "$WORK/good/logs/qcloud/02_happy_path@emu-qcloud.log"
check "the start line names the mqtts broker" grep -q "broker 127.0.0.1:$TPORT" "$WORK/good.txt"
check "the broker logged no TLS error of ours" bash -c "! grep -qi 'OpenSSL Error' '$WORK/mosquitto.log'"

# 1b. TLS on both sides of the MQTT proxy: the device's (lab tls = true) and the broker's
awk '/^device "emu-qcloud"/,/^}/' lab/emulated.lua |
  sed -e 's|"--download-timeout", "{download_timeout}" }|"--download-timeout", "{download_timeout}", "--ca", "{ca_file}" }|' \
      -e 's|kind = "process",|kind = "process", tls = true,|' > "$WORK/tls.lua"
timeout -k 5 120 "$OTAHIL" run scenarios/qcloud/02_happy_path.lua --lab "$WORK/tls.lua" --timeout-multiplier "$M" \
  --broker "mqtts://127.0.0.1:$TPORT" --broker-ca "$PKI/ca.pem" --report "$WORK/both" > "$WORK/both.txt" 2>&1
check "TLS device (lab tls) through TLS to the mqtts broker: PASS" [ "$(outcome "$WORK/both" '*')" = "PASS" ]

# 2. a wrong CA (another CA's certificate): one line, exit 2, quick
t0=$(now)
timeout -k 5 60 "$OTAHIL" run scenarios/qcloud "${SEL[@]}" --broker "mqtts://127.0.0.1:$TPORT" \
  --broker-ca "$PKI/untrusted.pem" --report "$WORK/bad" > "$WORK/bad.txt" 2>&1
rc=$?
took=$(secs "$t0" "$(now)")
check "wrong CA: exit 2 (got $rc) in ${took} s (< 5)" bash -c "[ $rc -eq 2 ] && $(declare -f below); below $took 5"
check "wrong CA: one clear line" grep -q "^otahil: --broker mqtts://127.0.0.1:$TPORT --broker-ca .*untrusted.pem: mqtt connect to 127.0.0.1:$TPORT: TLS: .*certificate verify failed" "$WORK/bad.txt"
check "wrong CA: no case ran" bash -c "! grep -q '^START' '$WORK/bad.txt'"

# 3. an unreadable CA, a plain listener asked for TLS, --broker-ca without mqtts, a closed port
bad() { # bad NAME WANT ARGS...: exit 2 within 5 s, the line matches WANT
  local name=$1 want=$2; shift 2
  local t0 rc took
  t0=$(now)
  timeout -k 5 60 "$OTAHIL" run scenarios/qcloud "${SEL[@]}" "$@" --report "$WORK/$name" > "$WORK/$name.txt" 2>&1
  rc=$?
  took=$(secs "$t0" "$(now)")
  check "$name: exit 2 (got $rc) in ${took} s, '$want'" \
    bash -c "[ $rc -eq 2 ] && $(declare -f below); below $took 5 && grep -q \"$want\" '$WORK/$name.txt'"
}
bad noca "CA '$WORK/nope.pem': cannot be read" --broker "mqtts://127.0.0.1:$TPORT" --broker-ca "$WORK/nope.pem"
bad plain "mqtt connect to 127.0.0.1:$PPORT: TLS: " --broker "mqtts://127.0.0.1:$PPORT" --broker-ca "$PKI/ca.pem"
bad caonly "^otahil: --broker-ca needs --broker mqtts://host:port" --broker "mqtt://127.0.0.1:$PPORT" --broker-ca "$PKI/ca.pem"
CLOSED=$(free_port)
bad closed "mqtt connect to 127.0.0.1:$CLOSED: \(Connection refused\|TLS: connection refused or reset\)" --broker "mqtts://127.0.0.1:$CLOSED" --broker-ca "$PKI/ca.pem"

# 4. the plain path is unchanged: mqtt:// to the plain listener
timeout -k 5 120 "$OTAHIL" run scenarios/qcloud --filter 'qcloud/02_*@emu-qcloud' --lab lab/emulated.lua \
  --timeout-multiplier "$M" --broker "mqtt://127.0.0.1:$PPORT" --report "$WORK/plainok" > "$WORK/plainok.txt" 2>&1
check "mqtt:// external broker: PASS as before" [ "$(outcome "$WORK/plainok" '*')" = "PASS" ]
finish
