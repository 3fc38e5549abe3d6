#!/bin/bash
# The whole aliyun and haas suites against the independent Python device
# (tests/devices/aliyun_device.py, its own image format), in each of its four
# settings {--retry self, wait} x {--progress every, rate:MS}: real SDKs differ
# on both, and the suites judge the protocol (seeds 003, 004 and the vendor's
# documents), so every scenario must PASS in every setting.
# The labs are lab/examples/python-aliyun.lua and python-haas.lua, one device
# per setting, copied into a temp folder with the images they name made there
# by the device's own mkimage; one otahil run takes all eight devices (-j 2).
. "$(dirname "$0")/lib.sh"
MULT=${OTAHIL_TIMEOUT_MULTIPLIER:-1}
PY=/usr/bin/python3
DEV=$OTAHIL_SRC/tests/devices/aliyun_device.py
SETTINGS="self:every self:rate wait:every wait:rate"

if ! $PY -c 'import paho.mqtt.client' 2>/dev/null; then
  echo "not ok - python3-paho-mqtt is missing"; exit 1
fi
F=$WORK/lab/fw
mkdir -p "$F"
mk() { $PY "$DEV" mkimage "$@" >/dev/null || not_ok "mkimage $*"; }
mk --version 2.0.0 --size 262144 -o "$F/ay-2.0.0.bin"
mk --version 3.0.0 --size 262144 -o "$F/ay-3.0.0.bin"
mk --version 1.1.0 --size 65536 -o "$F/ay-MCU-1.1.0.bin"
mk --version 2.9.0 --size 131072 --fail-boot -o "$F/ay-2.9.0-fail-boot.bin"
mk --version 2.8.0 --size 131072 --fail-burn -o "$F/ay-2.8.0-fail-burn.bin"
mk --version 2.0.0 --size 262144 -o "$F/hs-2.0.0.bin"
mk --version 1.1.0 --size 65536 -o "$F/hs-app-1.1.0.bin"
mk --version 2.9.0 --size 131072 --fail-boot -o "$F/hs-2.9.0-fail-boot.bin"
mk --version 2.8.0 --size 131072 --fail-burn -o "$F/hs-2.8.0-fail-burn.bin"

# One copy of each example lab per setting: its own device name (and so its
# own topics), the script by its absolute path, the setting's switches.
LAB=$WORK/lab/python-aliyun-family.lua
: > "$LAB"
for s in $SETTINGS; do
  retry=${s%%:*} prog=${s##*:}
  [ "$prog" = every ] && arg='"every"' || arg='"rate:{progress_interval_ms}"'
  for ex in aliyun haas; do
    sed -e "s|\"py-$ex\"|\"py-$ex-$retry-$prog\"|g" \
        -e "s|\"tests/devices/aliyun_device.py\"|\"$DEV\"|" \
        -e "s|\"--retry\", \"self\"|\"--retry\", \"$retry\"|" \
        -e "s|\"rate:{progress_interval_ms}\"|$arg|" "lab/examples/python-$ex.lua" >> "$LAB"
  done
done
check "the lab names the device script by its absolute path" grep -q "\"$DEV\"" "$LAB"
check "the lab has eight devices" [ "$(grep -c '^device "py-' "$LAB")" -eq 8 ]
check "the lab sets --retry wait and --progress every" \
  bash -c "grep -q '\"--retry\", \"wait\"' '$LAB' && grep -q '\"--progress\", \"every\"' '$LAB'"

start=$(date +%s)
"$OTAHIL" run scenarios/aliyun scenarios/haas --lab "$LAB" --report "$WORK/out" -j 2 \
  --timeout-multiplier "$MULT" > "$WORK/run.log" 2>&1
rc=$?
echo "# otahil exited $rc after $(( $(date +%s) - start )) s"
check "otahil exits 0 (all passed), got $rc" [ "$rc" -eq 0 ]

# one line per device: its setting and its outcomes; then what did not pass
python3 - "$WORK/out/report.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
rows = {}
for s in doc["scenarios"]:
    scen, dev = s["id"].rsplit("@", 1)
    rows.setdefault(dev, []).append((scen, s["outcome"], s.get("message") or ""))
for dev in sorted(rows):
    cases = sorted(rows[dev])
    print("# %-24s %s" % (dev, " ".join(o[0] for _, o, _ in cases)))
for dev in sorted(rows):
    for scen, o, msg in sorted(rows[dev]):
        if o != "PASS":
            print("#   %s@%s %s: %s" % (scen, dev, o, msg[:240]))
PY
for s in $SETTINGS; do
  retry=${s%%:*} prog=${s##*:}
  for ex in aliyun:15 haas:7; do
    suite=${ex%%:*} min=${ex##*:}
    outcomes=$(outcome "$WORK/out" "$suite/*@py-$suite-$retry-$prog")
    n=$(echo "$outcomes" | wc -w)
    bad=0
    for o in $outcomes; do [ "$o" = PASS ] || bad=$((bad + 1)); done
    check "$suite, --retry $retry --progress $prog: $n scenarios ran (at least $min)" [ "$n" -ge "$min" ]
    check "$suite, --retry $retry --progress $prog: every scenario PASSes ($bad did not)" [ "$bad" -eq 0 ]
  done
done
# as production firmware connects: over TLS (tls = true, --ca {ca_file}: MQTT over TLS,
# https:// firmware, both verified by Python's ssl) and signing its login (--secret)
# that the platform checks (auth = "platform"): the signed-login scenario and the
# happy paths (HTTP and MQTT-block downloads), every CONNECT judged
sed -e "s|\"tests/devices/aliyun_device.py\"|\"$DEV\"|" \
    -e 's|  kind = "process",|  kind = "process", tls = true, auth = "platform", secret = "py-aliyun-device-secret",|' \
    -e 's|"--retry", "self",|"--ca", "{ca_file}", "--secret", "{secret}", "--retry", "self",|' \
    -e 's|features = { "power",|features = { "auth", "power",|' lab/examples/python-aliyun.lua > "$WORK/lab/auth.lua"
check "the auth lab speaks TLS, signs and asks for the check" bash -c "grep -q 'tls = true, auth = \"platform\"' '$WORK/lab/auth.lua' &&
  grep -q '\"--ca\", \"{ca_file}\"' '$WORK/lab/auth.lua' &&
  grep -q '{secret}' '$WORK/lab/auth.lua' && grep -q '\"auth\", \"power\"' '$WORK/lab/auth.lua'"
"$OTAHIL" run scenarios/tls_aliyun scenarios/aliyun/02_happy_path_http.lua scenarios/aliyun/03_happy_path_mqtt.lua \
  --lab "$WORK/lab/auth.lua" --report "$WORK/auth" --timeout-multiplier "$MULT" > "$WORK/auth.log" 2>&1
rc=$?
check "TLS and a signed login: the login scenario and two upgrades PASS (rc $rc; $(outcome "$WORK/auth" '*' | xargs))" \
  [ "$rc" -eq 0 -a "$(outcome "$WORK/auth" '*' | xargs)" = "PASS PASS PASS" ]
[ "$rc" -eq 0 ] || grep -E '^(FAIL|ERROR|TIMEOUT) ' -A2 "$WORK/auth.log" | head -12
check "... every CONNECT outside the refusal window judged and accepted" python3 - "$WORK/auth/report.json" <<'PY'
import json, sys
res = [e for s in json.load(open(sys.argv[1]))["scenarios"] if not s["id"].startswith("tls_aliyun/")
       for e in s["events"] if e["kind"] == "mqtt.login.result"]
assert len(res) >= 2 and all(e.get("action") == "accept" for e in res), res[:3]
PY
check "... over TLS: the device fetched its firmware from an https:// URL" \
  grep -q 'ota: GET https://' "$WORK/auth/logs/aliyun/02_happy_path_http@py-aliyun.log"
check "... over TLS: the proxies terminated it (the device's CA was made)" [ -s "$WORK/auth/work/tls/py-aliyun/ca.pem" ]
finish
