#!/bin/bash
# aliyun.check_login (scenarios/lib/aliyun.lua) and digest.hmac: Aliyun's documented
# worked example accepted, each one-byte change refused with its reason.
. "$(dirname "$0")/lib.sh"
printf 'device "d" {\n  dialect = "aliyun", product = "P", device = "d", version = "1.0.0",\n  kind = "process", cmd = { "/bin/sleep", "30" },\n}\n' > "$WORK/lab.lua"
"$OTAHIL" run tests/fixtures/auth/aliyun_login.lua --lab "$WORK/lab.lua" --report "$WORK/out" > "$WORK/out.txt" 2>&1
rc=$?
check "aliyun login checks: exit 0 (got $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || cat "$WORK/out.txt"
finish
