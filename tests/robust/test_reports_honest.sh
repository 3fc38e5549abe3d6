#!/bin/bash
# Reports that cannot lie (issue 13): a reused --report folder never keeps an
# earlier green report; an exit-2 run says why it did not start (JUnit: one
# <error>); a run interrupted while a case cleans up reads as interrupted and
# failing everywhere; exit codes are 0-3 only, also for a signal in the first
# milliseconds and after the summary.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}
R=$WORK/r
green() { # green DIR: report.json says complete, all passed, not interrupted
  python3 - "$1/report.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s = d["summary"]
ok = d.get("complete") and not d.get("interrupted") and s["total"] == s["pass"] and s["total"] > 0
sys.exit(0 if ok else 1)
PY
}
junit_counts() { /usr/bin/python3 -c "
import sys, junitparser
x = junitparser.JUnitXml.fromfile(sys.argv[1])
print(x.failures, x.errors)" "$1/junit.xml"; }

# 1. a green run, then a run that stops with exit 2 in the same folder
"$OTAHIL" run tests/fixtures/misc/quick.lua --lab lab/emulated.lua --filter '*@emu-qcloud' --report "$R" > "$WORK/1.txt" 2>&1
check "a green run to start with (rc $?)" green "$R"
sed 's/  dialect = "qcloud",/  dialect = "qcloud", colour = "red",/' lab/emulated.lua > "$WORK/badlab.lua"
"$OTAHIL" run tests/fixtures/misc/quick.lua --lab "$WORK/badlab.lua" --report "$R" > "$WORK/2.txt" 2>&1
rc=$?
check "exit 2 on a lab error (got $rc)" [ "$rc" -eq 2 ]
check "exit 2: report.json is no longer the green one" bash -c "! green '$R'" 2>/dev/null || ! green "$R"
check "exit 2: report.json says why the run did not start, and the exit code" python3 - "$R/report.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if "colour" in d.get("not_started", "") and d.get("exit") == 2 and not d.get("complete") else 1)
PY
check "exit 2: junit.xml holds one error saying why ($(junit_counts "$R"))" [ "$(junit_counts "$R")" = "0 1" ]
check "exit 2: the junit error names the lab key" /usr/bin/python3 -c "
import re, sys, xml.etree.ElementTree as ET
m = [e.get('message') for e in ET.parse(sys.argv[1]).iter('error')]
sys.exit(0 if len(m) == 1 and re.search(r\"run did not start: .*badlab.lua:[0-9]+: device 'emu-qcloud': key 'colour' is unknown\", m[0]) else 1)" "$R/junit.xml"

# 2. killed at once (SIGKILL in the first milliseconds): never the old green
"$OTAHIL" run tests/fixtures/misc/quick.lua --lab lab/emulated.lua --filter '*@emu-qcloud' --report "$R" > /dev/null 2>&1
check "green again" green "$R"
for d in 0 0.01 0.03; do
  "$OTAHIL" run tests/fixtures/misc/quick.lua --lab lab/emulated.lua --filter '*@emu-qcloud' --report "$R" > /dev/null 2>&1 &
  pid=$!
  sleep $d
  kill -KILL $pid 2> /dev/null
  wait $pid 2> /dev/null
  pkill -KILL -f "$R/work" 2> /dev/null
  if [ -s "$R/report.json" ] && python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$R/report.json" 2>/dev/null; then
    # the run may have finished before the kill: then it is a true green
    if green "$R"; then
      grep -q '"duration"' "$R/report.json" && ok "SIGKILL after ${d} s: the report is this run's (it finished)"
    else
      ok "SIGKILL after ${d} s: the report does not read green"
    fi
  else
    ok "SIGKILL after ${d} s: no stale report parses as green"
  fi
done

# 3. SIGINT in the first milliseconds: exit 1 (not 130), whole reports, not green
for d in 0 0.005 0.02 0.05; do
  "$OTAHIL" run tests/fixtures/misc/quick.lua --lab lab/emulated.lua --filter '*@emu-qcloud' --report "$WORK/e$d" \
    > "$WORK/e$d.txt" 2>&1 &
  pid=$!
  sleep $d
  kill -INT $pid
  wait $pid
  rc=$?
  check "SIGINT after ${d} s: exit code 0-3 (got $rc; old code: 130)" [ "$rc" -le 3 ]
  if [ "$rc" -ne 0 ]; then
    check "SIGINT after ${d} s: the report does not read green" bash -c "! python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d.get(\"complete\") and not d.get(\"interrupted\") and d[\"summary\"][\"pass\"] == d[\"summary\"][\"total\"] else 1)' '$WORK/e$d/report.json'"
  fi
done

# 4. SIGINT while a case cleans up (a board whose power off at the case's
# end takes 2 s; the off at its start is quick): the run is interrupted, and
# no report reads as passing
cat > "$WORK/slowoff.lua" <<LUA
device "slow" {
  dialect = "qcloud", product = "P", device = "slow", version = "1.0.0", kind = "board",
  power = { driver = "exec", dir = "$WORK", timeout = 10, on = { "/bin/true" },
            off = { "/bin/sh", "-c", "if [ -e {dir}/was_off ]; then touch {dir}/cleaning; sleep 2; fi; touch {dir}/was_off" } },
}
LUA
cat > "$WORK/quick_board.lua" <<'LUA'
return { name = "passes at once", dialect = "qcloud", timeout = 20, run = function(t) t.device:power_on() end }
LUA
cat > "$WORK/nothing.lua" <<'LUA'
return { name = "does nothing", dialect = "qcloud", timeout = 20, run = function(t) end }
LUA
"$OTAHIL" run "$WORK/quick_board.lua" --lab "$WORK/slowoff.lua" --report "$WORK/cl" > "$WORK/cl.txt" 2>&1 &
pid=$!
for _ in $(seq 200); do [ -e "$WORK/cleaning" ] && break; sleep 0.05; done
check "the case is cleaning up (its power off runs)" [ -e "$WORK/cleaning" ]
kill -INT $pid
wait $pid
rc=$?
check "SIGINT during a case's cleanup: exit 1 (got $rc; old code: 0)" [ "$rc" -eq 1 ]
check "SIGINT during cleanup: report.json says interrupted" python3 -c "import json,sys; sys.exit(0 if json.load(open(sys.argv[1])).get('interrupted') else 1)" "$WORK/cl/report.json"
check "SIGINT during cleanup: junit.xml has an error ($(junit_counts "$WORK/cl"); old code: 0 0)" [ "$(junit_counts "$WORK/cl" | cut -d' ' -f2)" -ge 1 ]

# 5. a signal after the summary changes nothing: a board whose at-exit power
# takes 2 s; SIGINT twice then; the exit code stays the summary's (0)
cat > "$WORK/atexit.lua" <<LUA
device "late" {
  dialect = "qcloud", product = "P", device = "late", version = "1.0.0", kind = "board",
  power = { driver = "exec", off = { "/bin/true" }, timeout = 10, at_exit = "on",
            on = { "/bin/sh", "-c", "sleep 2" } },
}
LUA
"$OTAHIL" run "$WORK/nothing.lua" --lab "$WORK/atexit.lua" --report "$WORK/ae" > "$WORK/ae.txt" 2>&1 &
pid=$!
for _ in $(seq 200); do grep -q "^otahil: .* passed" "$WORK/ae.txt" 2>/dev/null && break; sleep 0.05; done
kill -INT $pid; sleep 0.2; kill -INT $pid
wait $pid
rc=$?
check "SIGINT twice after the summary: exit 0, the summary's (got $rc; old code: 130)" [ "$rc" -eq 0 ]
check "SIGINT after the summary: said and ignored" grep -q "after the summary: ignored" "$WORK/ae.txt"
finish
