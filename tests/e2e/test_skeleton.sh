#!/usr/bin/env bash
# The walking skeleton end to end: the qcloud suite against otadev passes; a
# device with a defect is caught; deadlines, runaway scripts, bad input, exit
# codes and Ctrl-C behave as documented.
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

# 3. a wait without end is a TIMEOUT at the deadline; a runaway script an ERROR with file:line
"$OTAHIL" run tests/fixtures/misc/endless_wait.lua tests/fixtures/misc/runaway.lua --lab lab/emulated.lua --report "$WORK/misc" > "$WORK/misc.txt" 2>&1
rc=$?
check "timeout/error fixtures: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "endless wait is TIMEOUT" [ "$(outcome "$WORK/misc" 'misc/endless_wait@*')" = "TIMEOUT" ]
check "runaway loop is ERROR" [ "$(outcome "$WORK/misc" 'misc/runaway@*')" = "ERROR" ]
check "runaway message names file and line" grep -q "runaway.lua:7: instruction budget" "$WORK/misc.txt"
check "TIMEOUT is a junit error of type TIMEOUT" grep -q 'type="TIMEOUT"' "$WORK/misc/junit.xml"
check "no otadev left after a timeout" bash -c "! pgrep -f '[o]tadev.*$WORK/misc' >/dev/null"

# 4. errors found before running are exit 2 with a located one-line message
"$OTAHIL" run tests/fixtures/bad --lab lab/emulated.lua --report "$WORK/bad" > "$WORK/bad.txt" 2>&1
check "syntax error in a scenario: exit 2" [ $? -eq 2 ]
check "syntax error names file:line" grep -q "syntax.lua:4:" "$WORK/bad.txt"
printf 'device "x" { dialect = "qcloud", product = "P", device = "d", version = "1", cmd = {"x"}, colour = 1 }\n' > "$WORK/badlab.lua"
"$OTAHIL" run scenarios/qcloud --lab "$WORK/badlab.lua" --report "$WORK/bad2" > "$WORK/bad2.txt" 2>&1
check "unknown lab key: exit 2" [ $? -eq 2 ]
check "unknown lab key is located" grep -q "badlab.lua:1: device 'x': key 'colour' is unknown" "$WORK/bad2.txt"
"$OTAHIL" run scenarios/nothing-here --lab lab/emulated.lua --report "$WORK/bad3" > /dev/null 2>&1
check "missing scenario path: exit 2" [ $? -eq 2 ]
"$OTAHIL" run scenarios/qcloud --report "$WORK/bad4" > /dev/null 2>&1
check "missing --lab: exit 2" [ $? -eq 2 ]
"$OTAHIL" frobnicate > /dev/null 2>&1
check "unknown command: exit 2" [ $? -eq 2 ]

# 5. Ctrl-C: cleanup runs, the device is cut, reports are whole, exit 1
"$OTAHIL" run tests/fixtures/interrupt --lab lab/emulated.lua --report "$WORK/int" > "$WORK/int.txt" 2>&1 &
pid=$!
for _ in $(seq 200); do pgrep -f "[o]tadev.*$WORK/int" >/dev/null && break; sleep 0.05; done
sleep 0.2
kill -INT $pid
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
wait $pid
rc=$?
check "SIGINT: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "SIGINT: the running case is ERROR (interrupted)" [ "$(outcome "$WORK/int" 'interrupt/1_slow@*')" = "ERROR" ]
check "SIGINT: the cases not run are SKIP" [ "$(outcome "$WORK/int" 'interrupt/2_*' | tr ' ' '\n' | sort -u)" = "SKIP" ]
check "SIGINT: no otadev left" bash -c "! pgrep -f '[o]tadev.*$WORK/int' >/dev/null"
check "SIGINT: junit.xml is whole" python3 -c "import xml.etree.ElementTree as E; E.parse('$WORK/int/junit.xml')"

# 6. fw build and list
"$OTAHIL" fw build --version 3.1.4 --size 4096 --fail-boot -o "$WORK/img.bin" > /dev/null
check "fw build writes an image of the asked size" [ "$(stat -c %s "$WORK/img.bin")" -eq 4096 ]
check "list names every scenario" [ "$("$OTAHIL" list scenarios/qcloud | wc -l)" -eq "$(ls scenarios/qcloud/*.lua | wc -l)" ]

# console_next applies re and contains together
"$OTAHIL" run tests/fixtures/misc/console_next.lua --lab lab/emulated.lua --report "$WORK/cn" > /dev/null 2>&1
check "console_next: re and contains both apply" [ "$(outcome "$WORK/cn" '*@emu-qcloud')" = "PASS" ]

# c:next gives payloads exactly: NUL bytes, longer than the log keeps
"$OTAHIL" run tests/fixtures/misc/mqtt_exact.lua --lab lab/emulated.lua --report "$WORK/mx" > /dev/null 2>&1
check "c:next: binary and 200 KiB payloads as sent" [ "$(outcome "$WORK/mx" '*@emu-qcloud')" = "PASS" ]

# a fault that could never apply raises instead of passing unnoticed
"$OTAHIL" run tests/fixtures/misc/mqtt_corrupt_raises.lua --lab lab/emulated.lua --report "$WORK/mc" > /dev/null 2>&1
check "t.net.mqtt:corrupt raises (use corrupt_publish)" [ "$(outcome "$WORK/mc" '*@emu-qcloud')" = "PASS" ]

# the sandbox reads only the lab's images (digest.file, t.fw:serve, t.fw:read)
"$OTAHIL" run tests/fixtures/misc/read_outside.lua --lab lab/emulated.lua --report "$WORK/ro" > /dev/null 2>&1
check "files outside the lab cannot be read by a scenario" [ "$(outcome "$WORK/ro" '*@emu-qcloud')" = "PASS" ]

# the README's form: lab and report folder relative to the current folder
rel=$(realpath --relative-to="$OTAHIL_SRC" "$WORK")/rel/
"$OTAHIL" run scenarios/qcloud --lab lab/emulated.lua --filter 'qcloud/01_*@emu-qcloud' --report "$rel" \
  > "$WORK/rel.txt" 2>&1
check "a relative --report folder works (exit $?)" [ "$(outcome "$WORK/rel" '*')" = "PASS" ]

# 7. --shard I/N deals the filtered cases round-robin: the parts are disjoint and cover them all
for i in 1 2; do
  "$OTAHIL" run scenarios/qcloud --lab lab/emulated.lua --filter 'qcloud/0[189]_*' --shard $i/2 \
    --report "$WORK/shard$i" > /dev/null 2>&1
done
ids() { python3 -c "import json,sys; print(' '.join(s['id'] for s in json.load(open(sys.argv[1]))['scenarios']))" "$1/report.json"; }
check "shard 1/2 runs the 1st and 3rd case" [ "$(ids "$WORK/shard1")" = "qcloud/01_version_after_boot@emu-qcloud qcloud/09_url_not_found@emu-qcloud" ]
check "shard 2/2 runs the 2nd case" [ "$(ids "$WORK/shard2")" = "qcloud/08_wrong_md5@emu-qcloud" ]
"$OTAHIL" run scenarios/qcloud --lab lab/emulated.lua --shard 3/2 --report "$WORK/shard3" > "$WORK/shard3.txt" 2>&1
check "--shard 3/2: exit 2" [ $? -eq 2 ]
check "--shard 3/2: says what is expected" grep -q "expected I/N" "$WORK/shard3.txt"

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
