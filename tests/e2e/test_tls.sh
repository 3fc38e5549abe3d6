#!/bin/bash
# TLS end to end: lab key tls = true gives the device mqtts and https endpoints
# (the proxies terminate TLS with a test PKI made for the run); otadev with
# --ca {ca_file} passes the qcloud suite over TLS, and the defects no-cert-verify
# and no-hostname-check are caught by scenarios/tls/01_qcloud_untrusted_certificate
# (they download from a server whose certificate is expired, names another host,
# or comes from another CA). The otadev lab signs its MQTT login too (auth =
# "platform", --secret {secret}): scenarios/tls/03_qcloud_login runs over TLS, and the
# whole suite with every CONNECT judged by qcloud.login.
. "$(dirname "$0")/lib.sh"
# the qcloud device of lab/emulated.lua, over TLS
tls_lab() { # tls_lab OUT [EXTRA_ARG]
  local extra=""; [ -n "${2:-}" ] && extra=", \"$2\""
  awk '/^device "emu-qcloud"/,/^}/' lab/emulated.lua |
    sed -e 's|"--download-timeout", "{download_timeout}" }|"--download-timeout", "{download_timeout}", "--ca", "{ca_file}"'"$extra"' }|' \
        -e 's|"--ca", "{ca_file}"|"--ca", "{ca_file}", "--secret", "{secret}"|' \
        -e 's|kind = "process",|kind = "process", tls = true, auth = "platform", secret = "vX6PQqazsGsMyf5SMfs6OA6y",|' \
        -e 's|features = { "power",|features = { "tls", "auth", "power",|' > "$1"
  grep -q 'tls = true' "$1" && grep -q '{ca_file}' "$1" && grep -q '"tls", "auth", "power"' "$1" && grep -q '{secret}' "$1"
}
check "the TLS lab is made from lab/emulated.lua" tls_lab "$WORK/tls.lua"
"$OTAHIL" run scenarios/qcloud scenarios/tls --lab "$WORK/tls.lua" --report "$WORK/good" > "$WORK/good.txt" 2>&1
rc=$?
check "qcloud suite over TLS: exit 0 (got $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || tail -30 "$WORK/good.txt"
check "qcloud over TLS: 16 + 4 cases" [ "$(outcome "$WORK/good" '*' | wc -w)" -eq 20 ]
check "qcloud over TLS: no case failed" bash -c "! grep -qw -e FAIL -e ERROR <<< \"$(outcome "$WORK/good" '*')\""
check "the untrusted-certificate scenario ran and passed" [ "$(outcome "$WORK/good" 'tls/01_*')" = PASS ]
check "the handshake-faults scenario ran and passed" [ "$(outcome "$WORK/good" 'tls/02_*')" = PASS ]
check "the signed-login scenario ran and passed over TLS" [ "$(outcome "$WORK/good" 'tls/03_*')" = PASS ]
check "the alert-mid-body scenario ran and passed (old code: ERROR, cut takes no tls_alert)" \
  [ "$(outcome "$WORK/good" 'tls/04_*')" = PASS ]
A=$WORK/good/logs/tls/04_qcloud_alert_mid_body@emu-qcloud.log
check "the alert acted at its body byte and the device resumed with a Range" \
  bash -c "grep -q 'fault=cut id=1 action=alert .*body_offset=87381 detail=internal_error' '$A' &&
           grep -q 'range=bytes=[1-9][0-9]*-' '$A'"
accepted=$(cat "$WORK"/good/logs/qcloud/*.log | grep -c 'mqtt.login.result.*action=accept')
check "every case of the suite logged in through the hold ($accepted accepted)" [ "$accepted" -ge 16 ]
check "no CONNECT of the suite was refused or left to the timeout" \
  bash -c "! grep -h 'mqtt.login.result' $WORK/good/logs/qcloud/*.log | grep -v 'action=accept' | grep -q ."
check "a stalled handshake was held, a cut one closed" \
  bash -c "grep -q 'tls-handshake action=stall' '$WORK/good/logs/tls/02_qcloud_handshake_faults@emu-qcloud.log' &&
           grep -q 'cut during the handshake' '$WORK/good/logs/tls/02_qcloud_handshake_faults@emu-qcloud.log'"
check "firmware URLs are https://" grep -q 'url":"https://127.0.0.1:' "$WORK/good/logs/qcloud/02_happy_path@emu-qcloud.log"
check "the device reports reach the cloud through the TLS MQTT proxy" \
  grep -q 'mqtt.in .*report_progress' "$WORK/good/logs/qcloud/02_happy_path@emu-qcloud.log"
check "the proxy logged the refused handshakes" grep -q 'tls handshake: ' "$WORK/good/report.json"
check "the run's CA is in work/tls" openssl verify -CAfile "$WORK/good/work/tls/emu-qcloud/ca.pem" \
  "$WORK/good/work/tls/emu-qcloud/server.pem"

check "the defective lab is made" tls_lab "$WORK/bug.lua" "--bug=no-cert-verify"
"$OTAHIL" run scenarios/tls --lab "$WORK/bug.lua" --report "$WORK/bug" > "$WORK/bug.txt" 2>&1
rc=$?
check "no-cert-verify: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "no-cert-verify: tls/01_qcloud_untrusted_certificate FAILs" [ "$(outcome "$WORK/bug" 'tls/01_*')" = FAIL ]
L=logs/tls/01_qcloud_untrusted_certificate@emu-qcloud.log
check "no-cert-verify: caught at the first (expired) certificate" \
  bash -c "grep -q 'presents the expired' '$WORK/bug/$L' && ! grep -q 'presents the wrong-name' '$WORK/bug/$L'"
check "the no-resume defective lab is made" tls_lab "$WORK/bug3.lua" "--bug=no-resume"
"$OTAHIL" run scenarios/tls/04_qcloud_alert_mid_body.lua --lab "$WORK/bug3.lua" --report "$WORK/bug3" > "$WORK/bug3.txt" 2>&1
check "no-resume: tls/04_qcloud_alert_mid_body FAILs, from 0 again after the alert" \
  bash -c "[ '$(outcome "$WORK/bug3" 'tls/04_*')' = FAIL ] && grep -q 'downloaded from 0 again' '$WORK/bug3.txt'"
check "the host-name defective lab is made" tls_lab "$WORK/bug2.lua" "--bug=no-hostname-check"
"$OTAHIL" run scenarios/tls --lab "$WORK/bug2.lua" --report "$WORK/bug2" > "$WORK/bug2.txt" 2>&1
rc=$?
check "no-hostname-check: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "no-hostname-check: the expired one refused, caught at the wrong-name one" \
  bash -c "grep -q 'presents the wrong-name' '$WORK/bug2/$L' && ! grep -q 'presents the untrusted' '$WORK/bug2/$L'"

# the independent Python device (tests/devices/qcloud_device.py --ca) over TLS too
PY=/usr/bin/python3
DEV=$OTAHIL_SRC/tests/devices/qcloud_device.py
mkdir -p "$WORK/py/fw"
for v in "2.0.0 262144" "3.0.0 262144" "2.9.0 131072 --fail-boot" "2.8.0 131072 --fail-burn"; do
  set -- $v
  f=qc-$1.bin; [ $# -gt 2 ] && f=qc-$1-${3#--}.bin
  $PY "$DEV" mkimage --version "$1" --size "$2" ${3:-} -o "$WORK/py/fw/$f" > /dev/null || not_ok "mkimage $v"
done
sed -e "s|\"tests/devices/qcloud_device.py\"|\"$DEV\"|" \
    -e 's|"--download-timeout", "{download_timeout}" }|"--download-timeout", "{download_timeout}", "--ca", "{ca_file}", "--secret", "{secret}" }|' \
    -e 's|kind = "process",|kind = "process", tls = true, auth = "platform", secret = "cHktcWNsb3VkLXNlY3JldA==",|' \
    -e 's|features = { "power",|features = { "tls", "auth", "power",|' lab/examples/python-qcloud.lua > "$WORK/py/lab.lua"
"$OTAHIL" run scenarios/qcloud scenarios/tls --lab "$WORK/py/lab.lua" --report "$WORK/pyout" > "$WORK/py.txt" 2>&1
rc=$?
check "the Python device over TLS: qcloud suite and the TLS scenario pass (exit $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || grep -E '^(FAIL|ERROR|TIMEOUT) ' -A2 "$WORK/py.txt" | head -20
check "the Python device over TLS: 20 cases" [ "$(outcome "$WORK/pyout" '*' | wc -w)" -eq 20 ]
check "the Python device resumes after the alert: tls/04 PASS" [ "$(outcome "$WORK/pyout" 'tls/04_*')" = PASS ]
check "the Python device signs its login (--secret): 03_qcloud_login PASS (old code: SKIP, no auth)" \
  [ "$(outcome "$WORK/pyout" 'tls/03_*')" = PASS ]
check "... and every CONNECT of the other cases was judged and accepted" python3 - "$WORK/pyout/report.json" <<'PY'
import json, sys
res = [e for s in json.load(open(sys.argv[1]))["scenarios"] if not s["id"].startswith("tls/03_")
       for e in s["events"] if e["kind"] == "mqtt.login.result"]
assert len(res) >= 16 and all(e.get("action") == "accept" for e in res), (len(res), [e for e in res if e.get("action") != "accept"][:3])
PY

# a plain lab still has plain URLs and skips the TLS scenario
"$OTAHIL" run scenarios/tls --filter 'tls/01_*@emu-qcloud' --lab lab/emulated.lua --report "$WORK/plain" > "$WORK/plain.txt" 2>&1
check "plain lab: the TLS scenario is SKIP" [ "$(outcome "$WORK/plain" 'tls/01_*@emu-qcloud')" = SKIP ]

# tls = { dir = "pki" }: the CA is made once and kept (a board is flashed with it)
mkdir -p "$WORK/kept"
printf 'device "d" {\n  dialect = "qcloud", product = "P", device = "d", version = "1.0.0",\n  kind = "process", cmd = { "/bin/sleep", "30", "{ca_file}" },\n  tls = { dir = "pki" },\n}\n' > "$WORK/kept/lab.lua"
"$OTAHIL" run tests/fixtures/auth/qcloud_login.lua --lab "$WORK/kept/lab.lua" --report "$WORK/k1" > "$WORK/k1.txt" 2>&1
check "tls.dir: the first run passes and makes pki/ca.pem" [ $? -eq 0 -a -s "$WORK/kept/pki/ca.pem" ]
ca1=$(md5sum < "$WORK/kept/pki/ca.pem")
"$OTAHIL" run tests/fixtures/auth/qcloud_login.lua --lab "$WORK/kept/lab.lua" --report "$WORK/k2" > "$WORK/k2.txt" 2>&1
check "tls.dir: the second run keeps the same CA" [ "$ca1" = "$(md5sum < "$WORK/kept/pki/ca.pem")" ]
echo garbage > "$WORK/kept/pki/ca.pem"
"$OTAHIL" run tests/fixtures/auth/qcloud_login.lua --lab "$WORK/kept/lab.lua" --report "$WORK/k3" > "$WORK/k3.txt" 2>&1
rc=$?
check "tls.dir with a broken ca.pem: exit 2, located, never replaced (got $rc)" \
  bash -c "[ $rc -eq 2 ] && grep -q \"lab.lua:1: device 'd': tls: .*ca.pem is not a PEM certificate\" '$WORK/k3.txt' && grep -qx garbage '$WORK/kept/pki/ca.pem'"
sed 's|  tls = { dir = "pki" },||' "$WORK/kept/lab.lua" > "$WORK/kept/plain.lua"
"$OTAHIL" run tests/fixtures/auth/qcloud_login.lua --lab "$WORK/kept/plain.lua" --report "$WORK/k4" > "$WORK/k4.txt" 2>&1
rc=$?
check "{ca_file} without tls: exit 2 at the device's line (got $rc)" \
  bash -c "[ $rc -eq 2 ] && grep -q \"plain.lua:1: device 'd': cmd\\[3\\] uses the unknown placeholder {ca_file}\" '$WORK/k4.txt'"

# lab errors are located
printf 'device "d" {\n  dialect = "qcloud", product = "P", device = "d", version = "1.0.0",\n  kind = "process", cmd = { "/bin/true" },\n  tls = { ca = "nope.pem", cert = "x", key = "y" },\n}\n' > "$WORK/badtls.lua"
"$OTAHIL" run scenarios/qcloud --lab "$WORK/badtls.lua" --report "$WORK/badtls" > "$WORK/badtls.txt" 2>&1
rc=$?
check "tls with a missing CA file: exit 2 (got $rc)" [ "$rc" -eq 2 ]
check "tls with a missing CA file: located" grep -q "badtls.lua:1: device 'd': tls.ca: file '.*nope.pem' cannot be read" "$WORK/badtls.txt"
finish
