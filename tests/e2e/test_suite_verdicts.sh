#!/usr/bin/env bash
# The qcloud suite passes otadev and its reports say so; a device that skips the MD5 check is caught by the wrong-MD5 scenario only.
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}

# 1. the suite passes against a correct device
"$OTAHIL" run scenarios/qcloud --lab lab/emulated.lua --report "$WORK/good" --timeout-multiplier "$M" > "$WORK/good.txt" 2>&1
rc=$?
check "qcloud suite against otadev exits 0 (got $rc)" [ "$rc" -eq 0 ]
check "every case passed" [ "$(outcome "$WORK/good" '*' | tr ' ' '\n' | sort -u)" = "PASS" ]
check "junit.xml has a testcase per scenario" [ "$(grep -c '<testcase' "$WORK/good/junit.xml")" -eq "$(ls scenarios/qcloud/*.lua | wc -l)" ]
check "junit.xml has no failure" [ "$(grep -c '<failure\|<error' "$WORK/good/junit.xml")" -eq 0 ]
check "the event log holds HTTP requests, console lines and MQTT both ways" python3 -c "
import json, sys
kinds = {e['kind'] for s in json.load(open('$WORK/good/report.json'))['scenarios'] for e in s['events']}
sys.exit(0 if {'http', 'console', 'mqtt.in', 'mqtt.out', 'power'} <= kinds else 1)"
check "every case that ran has its wall-clock start (ISO 8601 UTC, ms)" python3 -c "
import json, re, sys
scs = json.load(open('$WORK/good/report.json'))['scenarios']
sys.exit(0 if scs and all(re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z', s.get('started', '')) for s in scs) else 1)"

# 2. a device that skips the MD5 check is caught by the wrong-MD5 scenario, and only there
lab_with_args "$WORK/no-md5.lua" --bug no-md5
"$OTAHIL" run scenarios/qcloud --lab "$WORK/no-md5.lua" --report "$WORK/bug" --timeout-multiplier "$M" > "$WORK/bug.txt" 2>&1
rc=$?
check "no-md5 device: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "no-md5 device: wrong-MD5 scenario FAILs" [ "$(outcome "$WORK/bug" 'qcloud/08_wrong_md5@*')" = "FAIL" ]
check "no-md5 device: happy path still PASSes" [ "$(outcome "$WORK/bug" 'qcloud/02_happy_path@*')" = "PASS" ]
check "no-md5 device: the failure names the scenario line" grep -q "08_wrong_md5.lua:[0-9]*: device 'emu-qcloud' (OTAHILQC01/emu-qcloud) reported done" "$WORK/bug.txt"
check "no-md5 device: junit has the failure" grep -q '<failure' "$WORK/bug/junit.xml"

finish
