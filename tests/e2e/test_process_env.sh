#!/bin/bash
# A process device gets the lab's env = { NAME = "value with {placeholders}" }
# (and {secret}), on top of otahil's own environment; a bad variable name is a
# lab error at the device's line.
. "$(dirname "$0")/lib.sh"
cat > "$WORK/env.lua" <<'LUA'
device "envdev" {
  dialect = "qcloud", product = "P", device = "envdev", version = "1.0.0",
  kind = "process", secret = "s3cr3t",
  cmd = { "/bin/sh", "-c", "test -n \"$PATH\" && h=home; echo env:$OTAHIL_T_A:$OTAHIL_T_S:$h; sleep 30" },
  env = { OTAHIL_T_A = "x-{device}", OTAHIL_T_S = "{secret}" },
}
LUA
"$OTAHIL" run tests/fixtures/misc/process_env.lua --lab "$WORK/env.lua" --report "$WORK/out" > "$WORK/out.txt" 2>&1
rc=$?
check "env: the case passes (rc $rc)" [ "$rc" -eq 0 ]
check "env: the harness's environment is kept beside it" grep -q "env:x-envdev:s3cr3t:home" "$WORK/out/logs/misc/process_env@envdev.log"
sed 's/OTAHIL_T_A = /["BAD NAME"] = /' "$WORK/env.lua" > "$WORK/bad.lua"
"$OTAHIL" run tests/fixtures/misc/process_env.lua --lab "$WORK/bad.lua" --report "$WORK/bad" > "$WORK/bad.txt" 2>&1
rc=$?
check "a bad variable name: exit 2 (got $rc)" [ "$rc" -eq 2 ]
check "a bad variable name: located" grep -q "bad.lua:1: device 'envdev': env: 'BAD NAME' is not a variable name" "$WORK/bad.txt"
finish
