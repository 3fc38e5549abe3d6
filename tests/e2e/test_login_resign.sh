#!/bin/bash
# otadev signs its MQTT login afresh before every CONNECT (drivers/emu/login.c, device.c):
# with --sign-lifetime 2 (Tencent: the user name's expiry 2 s after signing), a
# reconnect after the first signature expired is still let in by qcloud.login, with a
# later expiry (tests/fixtures/auth/login_resign.lua). Signing once per session (the
# old otadev: an hour, once) is refused there at every reconnect.
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1} # 2 under the sanitizers
# the emulated lab's Tencent device, signing with a 2 s lifetime
sed -e '/^device "emu-qcloud"/,/^}/ s|kind = "process",|kind = "process", auth = "platform", secret = "vX6PQqazsGsMyf5SMfs6OA6y",|' \
    -e '/^device "emu-qcloud"/,/^}/ s|features = { "power",|features = { "auth", "power",|' \
    -e 's#"--dialect", "qcloud",#"--dialect", "qcloud", "--secret", "{secret}", "--sign-lifetime", "2",#' \
    lab/emulated.lua > "$WORK/lab.lua"
check "the lab's Tencent device signs with a 2 s lifetime" grep -q '"--sign-lifetime", "2"' "$WORK/lab.lua"
timeout $((60 * M)) "$OTAHIL" run tests/fixtures/auth/login_resign.lua --lab "$WORK/lab.lua" --report "$WORK/out" \
  --timeout-multiplier "$M" > "$WORK/out.txt" 2>&1
rc=$?
check "a reconnect after the 2 s signature lifetime: PASS (rc $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || cat "$WORK/out.txt"
log=$WORK/out/logs/auth/login_resign@emu-qcloud.log
check "both CONNECTs judged and accepted" [ "$(grep -c 'mqtt.login.result.*action=accept' "$log")" -ge 2 ]
check "none refused" bash -c "! grep 'mqtt.login.result' '$log' | grep -q 'action=refuse'"
check "the device signed each CONNECT (its console)" [ "$(grep -c 'mqtt login signed as' "$log")" -ge 2 ]
check "the log says the expiry moved on" grep -q 'signed afresh: expiry [0-9]*, then [0-9]*' "$log"
"$(dirname "$OTAHIL")/drivers/emu/otadev" --dialect qcloud --host 127.0.0.1 --port 1 --product P --device D \
  --state "$WORK/st" --secret x --sign-lifetime 0 > "$WORK/bad.txt" 2>&1
rc=$?
check "--sign-lifetime 0: a usage error (rc $rc)" bash -c "[ $rc -eq 2 ] && grep -q 'sign-lifetime' '$WORK/bad.txt'"
finish
