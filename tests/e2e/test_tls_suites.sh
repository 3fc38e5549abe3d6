#!/bin/bash
# The four standard suites over TLS: lab/emulated.lua with tls = true on every
# device and otadev given --ca {ca_file} (MQTT over TLS through the MQTT proxy,
# https:// firmware through the HTTP proxy; Aliyun's MQTT block download too), and
# the Tencent, Aliyun and HaaS devices sign their MQTT login (auth = "platform",
# otadev --secret): every CONNECT is held and judged by the dialect's login policy,
# and each of the three passes its login scenario (tls/03, tls_aliyun/01, tls_haas/01).
. "$(dirname "$0")/lib.sh"
sed -E -e 's|"\{bindir\}/drivers/emu/otadev", "--dialect",|"{bindir}/drivers/emu/otadev", "--ca", "{ca_file}", "--dialect",|' \
    -e 's|kind = "process",|kind = "process", tls = true,|' \
    -e '/^device "emu-(qcloud|aliyun|haas)"/,/^\}/ s|tls = true,|tls = true, auth = "platform", secret = "vX6PQqazsGsMyf5SMfs6OA6y",|' \
    -e 's#"--dialect", "(qcloud|aliyun|haas)",#"--secret", "{secret}", "--dialect", "\1",#' \
    -e '/^device "emu-(qcloud|aliyun|haas)"/,/^\}/ s|features = \{ "power",|features = { "auth", "power",|' \
    lab/emulated.lua > "$WORK/lab.lua"
check "every otadev of the emulated lab gets --ca" [ "$(grep -c '"--ca", "{ca_file}"' "$WORK/lab.lua")" -eq 4 ]
check "three of them sign their login" [ "$(grep -c 'auth = "platform"' "$WORK/lab.lua")$(grep -c '"--secret", "{secret}"' "$WORK/lab.lua")" = 33 ]
"$OTAHIL" run scenarios/qcloud scenarios/aliyun scenarios/haas scenarios/quecthing \
  scenarios/tls/03_qcloud_login.lua scenarios/tls_aliyun/01_aliyun_login.lua scenarios/tls_haas/01_haas_login.lua \
  --lab "$WORK/lab.lua" \
  --report "$WORK/out" -j 2 > "$WORK/out.txt" 2>&1
rc=$?
check "four suites over TLS: exit 0 (got $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || grep -E '^(FAIL|ERROR|TIMEOUT) ' -A3 "$WORK/out.txt" | head -40
all=$(outcome "$WORK/out" '*')
n=$(echo $all | wc -w)
others=$(echo $all | tr ' ' '\n' | grep -vc '^PASS$')
check "four suites over TLS: at least 50 cases ran (got $n)" [ "$n" -ge 50 ]
check "every case passed ($others did not)" [ "$others" -eq 0 ]
accepted=$(cat "$WORK"/out/logs/*/*.log | grep -c 'mqtt.login.result.*action=accept')
check "the signed logins went through the hold ($accepted accepted)" [ "$accepted" -ge 30 ]
check "the login scenarios ran and passed (Tencent, Aliyun, HaaS)" \
  [ "$(outcome "$WORK/out" 'tls*/0[13]_*_login@*')" = "PASS PASS PASS" ]
check "the HaaS device's login was judged by aliyun.login" \
  grep -q 'mqtt.login.result.*action=accept.*aliyun.check_login: signed' "$WORK"/out/logs/tls_haas/01_haas_login@emu-haas.log
check "no CONNECT of the suites was refused or left to the timeout" \
  bash -c "! cat $WORK/out/logs/{qcloud,aliyun,haas}/*.log | grep 'mqtt.login.result' | grep -v 'action=accept' | grep -q ."
check "the MQTT proxies terminated TLS (each device's CA was made)" \
  [ "$(ls "$WORK"/out/work/tls/*/ca.pem | wc -l)" -ge 4 ]
finish
