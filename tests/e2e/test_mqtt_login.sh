#!/bin/bash
# The login hold (lab auth = "platform", docs/tls.md): the device's MQTT proxy holds
# each CONNECT until the dialect library decides. With real clients:
#   mosquitto_pub signed as Tencent signs (openssl): accepted and published; one byte
#   of the password changed: refused, CONNACK 4 (MQTT 3.1.1) / 0x86 (MQTT 5), the
#   exit status mosquitto_pub gives; nobody decides: refused with 5 after the 5 s
#   timeout, never hung;
#   otadev --secret: scenarios/tls/03_qcloud_login passes, --bug bad-signature FAILs;
#   the same for Aliyun's signature (aliyun.login, scenarios/tls_aliyun/01_aliyun_login)
#   and HaaS's, which is Aliyun's (scenarios/tls_haas/01_haas_login);
#   a device that reconnects every 0.2 s while refused is a warning, a FAIL with
#   strict = { "login-backoff" };
#   auth = "foo", or "platform" without a secret, or on a QuecThing device (no documented
#   login: the catalogue's logins): exit 2 at the device's line.
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1} # 2 under the sanitizers
cat > "$WORK/pub.lua" <<'LUA'
local function pub(name, mode, version)
  device(name) {
    dialect = "qcloud", product = "S3EUVBRJLB", device = name, version = "1.0.0",
    kind = "process", auth = "platform", secret = "vX6PQqazsGsMyf5SMfs6OA6y",
    cmd = { "{root}/tests/e2e/auth/tencent_pub.sh", "{mqtt_host}", "{mqtt_port}", "{product}", "{device}",
            "{secret}", mode, version },
  }
end
pub("good", "good", "mqttv311")
pub("badpw", "badpw", "mqttv311")
pub("badpw5", "badpw", "5")
pub("silent", "good", "mqttv311")
LUA
t0=$(date +%s)
timeout $((120 * M)) "$OTAHIL" run tests/fixtures/auth/login_mosquitto.lua --lab "$WORK/pub.lua" --report "$WORK/pub" -j 4 \
  --timeout-multiplier "$M" \
  > "$WORK/pub.txt" 2>&1
rc=$?
secs=$(( $(date +%s) - t0 ))
check "mosquitto_pub: the four logins as expected (rc $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || cat "$WORK/pub.txt"
logs="$WORK/pub/logs/auth"
check "right credentials: published" grep -q "pub: rc=0 " "$logs/login_mosquitto@good.log"
check "one byte changed: CONNACK 4" grep -q "pub: rc=4 Connection error: Connection Refused: bad user name or password" \
  "$logs/login_mosquitto@badpw.log"
check "one byte changed, MQTT 5: CONNACK 0x86" grep -q "pub: rc=134 Connection error: Bad User Name or Password" \
  "$logs/login_mosquitto@badpw5.log"
check "no decision: CONNACK 5 after the timeout" grep -q "pub: rc=5 Connection error: Connection Refused: not authorised" \
  "$logs/login_mosquitto@silent.log"
check "no decision: the reason is logged" grep -q "mqtt.login.result.*action=refuse code=5.*no login decision within [0-9]* ms" \
  "$logs/login_mosquitto@silent.log"
check "no decision: not hung (the run took $secs s)" [ "$secs" -lt $((30 * M)) ]

# a login the policy cannot judge (TLS, no password: Tencent's certificate or PSK
# login) is an ERROR of the case naming why, not a refusal that FAILs the device
cat > "$WORK/nopw.lua" <<'LUA'
device "nopw" {
  dialect = "qcloud", product = "S3EUVBRJLB", device = "nopw", version = "1.0.0",
  kind = "process", auth = "platform", secret = "vX6PQqazsGsMyf5SMfs6OA6y", tls = true,
  cmd = { "{root}/tests/e2e/auth/tencent_pub.sh", "{mqtt_host}", "{mqtt_port}", "{product}", "{device}",
          "{secret}", "nopw", "mqttv311", "{ca_file}" },
}
LUA
timeout $((60 * M)) "$OTAHIL" run tests/fixtures/auth/login_mosquitto.lua --lab "$WORK/nopw.lua" --report "$WORK/nopw" \
  --timeout-multiplier "$M" > "$WORK/nopw.txt" 2>&1
check "TLS login with no password: ERROR, not FAIL" [ "$(outcome "$WORK/nopw" '*')" = "ERROR" ]
check "the ERROR says otahil cannot judge it" grep -q "no password (Tencent's certificate or PSK login" "$WORK/nopw.txt"

cat > "$WORK/emu.lua" <<'LUA'
device "emu-qcloud-auth" {
  dialect = "qcloud", product = "OTAHILQC01", device = "emu-qcloud-auth", version = "1.0.0",
  kind = "process", auth = "platform", secret = "vX6PQqazsGsMyf5SMfs6OA6y",
  cmd = { "{bindir}/drivers/emu/otadev", "--dialect", "qcloud", "--host", "{mqtt_host}", "--port", "{mqtt_port}",
          "--product", "{product}", "--device", "{device}", "--state", "{state_dir}", "--version", "{version}",
          "--secret", "{secret}" },
  timing = { boot = 5 },
  features = { "power", "console", "auth" },
}
LUA
timeout $((120 * M)) "$OTAHIL" run scenarios/tls/03_qcloud_login.lua --lab "$WORK/emu.lua" --report "$WORK/emu" \
  --timeout-multiplier "$M" > "$WORK/emu.txt" 2>&1
rc=$?
check "otadev --secret: 03_qcloud_login passes (rc $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || cat "$WORK/emu.txt"
check "otadev: refused on purpose, it tried again" grep -q "CONNECTs in 8 s while refused" \
  "$WORK/emu/logs/tls/03_qcloud_login@emu-qcloud-auth.log"
sed 's|"--secret", "{secret}" }|"--secret", "{secret}", "--bug", "bad-signature" }|' "$WORK/emu.lua" > "$WORK/bad.lua"
timeout $((120 * M)) "$OTAHIL" run scenarios/tls/03_qcloud_login.lua --lab "$WORK/bad.lua" --report "$WORK/bad" \
  --timeout-multiplier "$M" > "$WORK/bad.txt" 2>&1
rc=$?
check "otadev --bug bad-signature: FAIL (rc $rc)" [ "$rc" -eq 1 ]
check "bad-signature: the reason names the signature" grep -q "its MQTT login was refused: qcloud.check_login: wrong hmacsha256 signature" \
  "$WORK/bad.txt"

# a device that does not back off (a new CONNECT every 0.2 s): a warning; a FAIL with
# strict = { "login-backoff" }
cat > "$WORK/hammer.lua" <<'LUA'
device "hammer" {
  dialect = "qcloud", product = "S3EUVBRJLB", device = "hammer", version = "1.0.0",
  kind = "process", auth = "platform", secret = "vX6PQqazsGsMyf5SMfs6OA6y",
  cmd = { "{root}/tests/e2e/auth/tencent_pub.sh", "{mqtt_host}", "{mqtt_port}", "{product}", "{device}",
          "{secret}", "hammer" },
  features = { "power", "console", "auth" },
}
LUA
timeout $((120 * M)) "$OTAHIL" run scenarios/tls/03_qcloud_login.lua --lab "$WORK/hammer.lua" --report "$WORK/ham" \
  --timeout-multiplier "$M" > "$WORK/ham.txt" 2>&1
rc=$?
check "a device that hammers: PASS with a warning (rc $rc)" [ "$rc" -eq 0 ]
check "the warning names the gap" grep -q "warning.*refused, it logged in again after 0\.[0-9]* s (the device SDKs wait at least 1 s)" \
  "$WORK/ham/logs/tls/03_qcloud_login@hammer.log"
sed 's/auth = "platform",/auth = "platform", strict = { "login-backoff" },/' "$WORK/hammer.lua" > "$WORK/hammer_strict.lua"
timeout $((120 * M)) "$OTAHIL" run scenarios/tls/03_qcloud_login.lua --lab "$WORK/hammer_strict.lua" --report "$WORK/hams" \
  --timeout-multiplier "$M" > "$WORK/hams.txt" 2>&1
rc=$?
check "strict login-backoff: the hammering device FAILs (rc $rc)" [ "$rc" -eq 1 ]
check "strict login-backoff: the reason" grep -q "(strict login-backoff)" "$WORK/hams.txt"

# Aliyun: otadev signs as the Aliyun docs say (clientId|securemode=3,...|), aliyun.login checks it
cat > "$WORK/aly.lua" <<'LUA'
device "emu-aliyun-auth" {
  dialect = "aliyun", product = "a14Xib5kdYd", device = "light1983432", version = "1.0.0",
  kind = "process", auth = "platform", secret = "oLyaKqVxtRvjH284LdhqVgVUx1UPy6zq",
  cmd = { "{bindir}/drivers/emu/otadev", "--dialect", "aliyun", "--host", "{mqtt_host}", "--port", "{mqtt_port}",
          "--product", "{product}", "--device", "{device}", "--state", "{state_dir}", "--version", "{version}",
          "--secret", "{secret}" },
  features = { "power", "console", "auth" },
}
LUA
"$OTAHIL" run scenarios/tls_aliyun/01_aliyun_login.lua --lab "$WORK/aly.lua" --report "$WORK/aly" \
  --timeout-multiplier "$M" > "$WORK/aly.txt" 2>&1
rc=$?
check "otadev --dialect aliyun --secret: tls_aliyun/01_aliyun_login passes (rc $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || cat "$WORK/aly.txt"
sed 's|"--secret", "{secret}" }|"--secret", "{secret}", "--bug", "bad-signature" }|' "$WORK/aly.lua" > "$WORK/alyb.lua"
"$OTAHIL" run scenarios/tls_aliyun/01_aliyun_login.lua --lab "$WORK/alyb.lua" --report "$WORK/alyb" \
  --timeout-multiplier "$M" > "$WORK/alyb.txt" 2>&1
rc=$?
check "aliyun, bad-signature: FAIL (rc $rc)" [ "$rc" -eq 1 ]
check "aliyun, bad-signature: the reason" grep -q "its MQTT login was refused: aliyun.check_login: wrong hmacsha256 signature" "$WORK/alyb.txt"

# HaaS signs in as Aliyun (seed 004; haas.login is aliyun.login): a wrong signature FAILs
# tls_haas/01_haas_login at its first login (its passing run is in test_tls_suites)
sed -e '/^device "emu-haas"/,/^}/ s|kind = "process",|kind = "process", auth = "platform", secret = "oLyaKqVxtRvjH284LdhqVgVUx1UPy6zq",|' \
    -e '/^device "emu-haas"/,/^}/ s|features = { "power",|features = { "auth", "power",|' \
    -e 's#"--dialect", "haas",#"--dialect", "haas", "--secret", "{secret}", "--bug", "bad-signature",#' \
    lab/emulated.lua > "$WORK/haas.lua"
"$OTAHIL" run scenarios/tls_haas/01_haas_login.lua --lab "$WORK/haas.lua" --report "$WORK/hs" \
  --timeout-multiplier "$M" > "$WORK/hs.txt" 2>&1
rc=$?
check "haas, bad-signature: tls_haas/01_haas_login FAILs (rc $rc)" [ "$rc" -eq 1 ]
check "haas, bad-signature: judged by aliyun.check_login" \
  grep -q "its MQTT login was refused: aliyun.check_login: wrong hmacsha256 signature" "$WORK/hs.txt"

sed 's/auth = "platform"/auth = "foo"/' "$WORK/emu.lua" > "$WORK/foo.lua"
"$OTAHIL" run scenarios/tls/03_qcloud_login.lua --lab "$WORK/foo.lua" --report "$WORK/foo" > "$WORK/foo.txt" 2>&1
rc=$?
check "auth = \"foo\": exit 2 (got $rc)" [ "$rc" -eq 2 ]
check "auth = \"foo\": located" grep -q "foo.lua:1: device 'emu-qcloud-auth': auth must be \"none\" or \"platform\"" "$WORK/foo.txt"
sed 's/secret = "vX6PQqazsGsMyf5SMfs6OA6y",//; s/"--secret", "{secret}" //' "$WORK/emu.lua" > "$WORK/nosecret.lua"
"$OTAHIL" run scenarios/tls/03_qcloud_login.lua --lab "$WORK/nosecret.lua" --report "$WORK/ns" > "$WORK/ns.txt" 2>&1
rc=$?
check "auth = \"platform\" without a secret: exit 2 (got $rc)" [ "$rc" -eq 2 ]
check "without a secret: located" grep -q "nosecret.lua:1: device 'emu-qcloud-auth': auth = \"platform\" needs secret" "$WORK/ns.txt"
# a dialect with no documented login (QuecThing: the catalogue's logins do not name it):
# a lab error when the lab loads, exit 2 at the device's line, before any case starts
sed -e '/^device "emu-quecthing"/,/^}/ s|kind = "process",|kind = "process", auth = "platform", secret = "s3cr3t",|' \
  lab/emulated.lua > "$WORK/quec.lua"
line=$(grep -n '^device "emu-quecthing"' "$WORK/quec.lua" | cut -d: -f1)
"$OTAHIL" run scenarios/quecthing/01_version_report.lua --lab "$WORK/quec.lua" --report "$WORK/qt" > "$WORK/qt.txt" 2>&1
rc=$?
check "quecthing with auth = \"platform\": exit 2 (got $rc)" [ "$rc" -eq 2 ]
check "quecthing with auth = \"platform\": a lab error at the device's line" grep -qF \
  "quec.lua:$line: device 'emu-quecthing': auth = \"platform\": the quecthing dialect has no documented login to check" \
  "$WORK/qt.txt"
check "quecthing with auth = \"platform\": no case started" bash -c "! grep -q '^START' '$WORK/qt.txt'"
finish
