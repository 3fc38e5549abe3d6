#!/usr/bin/env bash
# A lab's network = {...}: fixed proxy ports, the host the device is told, firmware URLs (no port on the default HTTP port).
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}

# 8. network = {...}: the proxies listen on fixed ports and the device and the
# firmware URLs use the lab's host name for them (a board with a built-in address)
read -r P1 P2 < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
sed "s|  features = { \"power\", \"console\", \"console-lines\", \"resume\", \"rollback\", \"burn-check\" },|&\n  network = { listen = \"127.0.0.1\", host = \"localhost\", mqtt_port = $P1, http_port = $P2 },|" \
  lab/emulated.lua > "$WORK/netlab.lua"
"$OTAHIL" run scenarios/qcloud --lab "$WORK/netlab.lua" --filter 'qcloud/0[23]_*@emu-qcloud' \
  --report "$WORK/net" > "$WORK/net.txt" 2>&1
check "fixed proxy ports: both cases pass (one after the other on the same ports)" \
  [ "$(outcome "$WORK/net" '*')" = "PASS PASS" ]
check "the device was told host localhost and the fixed MQTT port" \
  grep -q "mqtt connecting to localhost:$P1 " "$WORK/net/logs/qcloud/02_happy_path@emu-qcloud.log"
check "firmware URLs point at localhost:<fixed HTTP port>" \
  grep -q "http://localhost:$P2/fw/" "$WORK/net/logs/qcloud/02_happy_path@emu-qcloud.log"

# 9. on the default HTTP port the firmware URLs name no port (vendor HTTP
# clients often parse no host:port); port 80 needs root, and 127.0.0.2 (loopback)
# keeps it clear of anything on 127.0.0.1:80
if [ "$(id -u)" -eq 0 ]; then
  sed "s|  features = { \"power\", \"console\", \"console-lines\", \"resume\", \"rollback\", \"burn-check\" },|&\n  network = { listen = \"127.0.0.2\", mqtt_port = $P1, http_port = 80 },|" \
    lab/emulated.lua > "$WORK/port80.lua"
  "$OTAHIL" run scenarios/qcloud --lab "$WORK/port80.lua" --filter 'qcloud/02_*@emu-qcloud' \
    --report "$WORK/p80" > "$WORK/p80.txt" 2>&1
  check "http_port 80: the case passes" [ "$(outcome "$WORK/p80" '*')" = "PASS" ]
  check "http_port 80: firmware URLs name no port (http://127.0.0.2/fw/...)" \
    grep -q '"url":"http://127.0.0.2/fw/' "$WORK/p80/logs/qcloud/02_happy_path@emu-qcloud.log"
else
  echo "# skipped: http_port 80 needs root"
fi

finish
