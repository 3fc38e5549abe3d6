#!/bin/bash
# qcloud.check_login (scenarios/lib/qcloud.lua) and digest.hmac / base64_decode:
# Tencent's signed MQTT login accepted, each one-byte change refused with its reason.
. "$(dirname "$0")/lib.sh"
printf 'device "d" {\n  dialect = "qcloud", product = "P", device = "d", version = "1.0.0",\n  kind = "process", cmd = { "/bin/sleep", "30" },\n}\n' > "$WORK/lab.lua"
"$OTAHIL" run tests/fixtures/auth/qcloud_login.lua --lab "$WORK/lab.lua" --report "$WORK/out" > "$WORK/out.txt" 2>&1
rc=$?
check "login checks: exit 0 (got $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || cat "$WORK/out.txt"
finish
