#!/bin/bash
# While a case runs (issue 15): its log exists from its first event and grows
# (tail -f works); CI logs get a START line and a heartbeat every 30 s; -v
# streams every event prefixed with the case id; on a terminal a status line
# per running case is redrawn in place.
. "$(dirname "$0")/../../e2e/lib.sh"
mkdir -p "$WORK/s/qcloud"
cat > "$WORK/lab.lua" <<'LUA'
device "toy" { dialect = "qcloud", product = "P", device = "toy", version = "1.0.0",
  kind = "process", cmd = { "/bin/sh", "-c", "echo the toy booted; exec sleep 60" } }
LUA
cat > "$WORK/s/qcloud/slow.lua" <<'LUA'
return { name = "slow", timeout = 120, run = function(t)
  t.device:power_on()
  t.log("step one")
  otahil.sleep(t.params.secs)
  t.log("step two")
end, params = { { secs = 32 } } }
LUA
cat > "$WORK/s/qcloud/short.lua" <<'LUA'
return { name = "short", run = function(t) t.log("step one"); otahil.sleep(3); t.log("step two") end }
LUA
LOG="$WORK/r/logs/qcloud/slow[secs=32]@toy.log"
"$OTAHIL" run "$WORK/s/qcloud/slow.lua" --lab "$WORK/lab.lua" --report "$WORK/r" > "$WORK/r.txt" 2>&1 &
pid=$!
sleep 4
check "the running case's log exists and has its first events" grep -q "msg=step one" "$LOG"
check "... and no outcome yet" bash -c "! grep -q '# outcome' '$LOG'"
check "... its raw console file grows too" grep -q "the toy booted" "${LOG%.log}.console"
check "CI output: a START line when the case starts" grep -q "^START   qcloud/slow\[secs=32\]@toy" "$WORK/r.txt"
wait $pid
check "CI output: a heartbeat line while it runs 30 s" grep -q "^RUN     qcloud/slow\[secs=32\]@toy  3[0-9] s" "$WORK/r.txt"
check "the final log has the outcome and both steps" bash -c \
  "grep -q '^# outcome PASS' '$LOG' && grep -q 'msg=step two' '$LOG'"

"$OTAHIL" run "$WORK/s/qcloud/short.lua" -v --lab "$WORK/lab.lua" --report "$WORK/v" > "$WORK/v.txt" 2>&1
check "-v streams every event prefixed with its case id" grep -q "^qcloud/short@toy | .*log .*msg=step one" "$WORK/v.txt"

if command -v script > /dev/null; then
  TERM=xterm COLUMNS=100 script -qec "'$OTAHIL' run '$WORK/s/qcloud/short.lua' --lab '$WORK/lab.lua' --report '$WORK/t'" \
    "$WORK/t.typescript" > /dev/null 2>&1
  check "on a terminal: a status line for the running case, redrawn in place" bash -c \
    "grep -a 'RUN     qcloud/short@toy' '$WORK/t.typescript' | grep -qa \$'\\033\\[K' && grep -qa \$'\\033\\[1A' '$WORK/t.typescript'"
  check "... and no START lines there" bash -c "! grep -qa '^START' '$WORK/t.typescript'"
else
  not_ok "script(1) is missing (bsdutils)"
fi
finish
