#!/usr/bin/env bash
# Boards powered through the harness, end to end: the exec driver (commands that
# write the outlet's state to a file) and Debian's pdudaemon (localcmdline), the
# Lua power calls, the cleanup between cases and power.at_exit on every way a
# run ends (done, a failing call, a deadline, Ctrl-C); process devices through
# the same methods; a lab error is exit 2 with its location.
. "$(dirname "$0")/../e2e/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}
S=tests/power/scenarios
PDU_PID=
stop_pdu() { [ -n "$PDU_PID" ] && kill "$PDU_PID" 2>/dev/null; wait 2>/dev/null; PDU_PID=; }
trap 'stop_pdu; cleanup' EXIT

# board_lab FILE AT_EXIT_LINE ON_CMD: a board whose exec power writes $WORK/outlet
board_lab() {
  local on='{ "sh", "-c", "echo on > {dir}/outlet; echo on {outlet} {name} >> {dir}/log" }'
  [ -n "${3:-}" ] && on=$3
  cat > "$1" <<LAB
device "b1" {
  dialect = "qcloud", product = "P1", device = "b1", version = "1.0.0",
  kind = "board",
  power = { driver = "exec", dir = "$WORK", outlet = 4, timeout = 5, $2
    on = $on,
    off = { "sh", "-c", "echo off > {dir}/outlet; echo off {outlet} >> {dir}/log" },
    state = { "cat", "{dir}/outlet" } },
}
LAB
}
events() { # events REPORT KIND -> "state/how" of each event of that kind, in order
  python3 - "$1/report.json" "$2" <<'PY'
import json, sys
for s in json.load(open(sys.argv[1]))["scenarios"]:
    for e in s["events"]:
        if e["kind"] == sys.argv[2]:
            print(e.get("state", ""), e.get("how", e.get("why", "")), end="; ")
PY
}

# 1. the Lua calls; a case starts off; the cleanup cuts; at exit the state from before the run
echo off > "$WORK/outlet"
board_lab "$WORK/lab1.lua" ""
"$OTAHIL" run $S/power_api.lua --lab "$WORK/lab1.lua" --report "$WORK/r1" --timeout-multiplier "$M" > "$WORK/r1.txt" 2>&1
rc=$?
check "exec board: the power scenario passes (exit $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || cat "$WORK/r1.txt"
check "exec board: placeholders {outlet} {name} filled" grep -q "^on 4 b1$" "$WORK/log"
check "exec board: start off, on, cycle = off+on, off, on, cleanup off" \
  [ "$(tr '\n' ' ' < "$WORK/log")" = "off 4 on 4 b1 off 4 on 4 b1 off 4 on 4 b1 off 4 " ]
check "exec board: off before the run, so off after it" [ "$(cat "$WORK/outlet")" = off ]
check "exec board: power events in the log" grep -q '"how":[[:space:]]*"exec"' "$WORK/r1/report.json"

# the state before the run was on: it is on again after the run
echo on > "$WORK/outlet"; : > "$WORK/log"
"$OTAHIL" run $S/power_api.lua --lab "$WORK/lab1.lua" --report "$WORK/r1b" --timeout-multiplier "$M" > "$WORK/r1b.txt" 2>&1
check "at_exit by default: on before the run, on after it" [ "$(cat "$WORK/outlet")" = on ]
check "at_exit by default: the last switch is the restore" [ "$(tail -1 "$WORK/log")" = "on 4 b1" ]

# at_exit = "leave": the cleanup's off stays; at_exit = "on": on whatever it was
echo on > "$WORK/outlet"; : > "$WORK/log"
board_lab "$WORK/lab2.lua" 'at_exit = "leave",'
"$OTAHIL" run $S/power_api.lua --lab "$WORK/lab2.lua" --report "$WORK/r2" --timeout-multiplier "$M" > "$WORK/r2.txt" 2>&1
check "at_exit = leave: left off by the cleanup" [ "$(cat "$WORK/outlet")" = off ]
echo off > "$WORK/outlet"
board_lab "$WORK/lab3.lua" 'at_exit = "on",'
"$OTAHIL" run $S/power_api.lua --lab "$WORK/lab3.lua" --report "$WORK/r3" --timeout-multiplier "$M" > "$WORK/r3.txt" 2>&1
check "at_exit = on: on after the run" [ "$(cat "$WORK/outlet")" = on ]

# 2. a failing driver: ERROR at the scenario's line naming device and driver; at_exit still runs
echo on > "$WORK/outlet"; : > "$WORK/log"
board_lab "$WORK/lab4.lua" 'at_exit = "on",' '{ "sh", "-c", "echo relay stuck >&2; exit 3" }'
"$OTAHIL" run $S/power_fails.lua --lab "$WORK/lab4.lua" --report "$WORK/r4" --timeout-multiplier "$M" > "$WORK/r4.txt" 2>&1
rc=$?
check "failing relay: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "failing relay: the case is ERROR" [ "$(outcome "$WORK/r4" '*')" = "ERROR" ]
check "failing relay: message has file:line, device, driver and why" \
  grep -q "power_fails.lua:7: device 'b1': power on (exec): 'sh' exited with status 3: relay stuck" "$WORK/r4.txt"
check "failing relay: power.error event" grep -q '"kind":[[:space:]]*"power.error"' "$WORK/r4/report.json"
check "failing relay: at exit the at_exit command was tried and said why" grep -q "power on at exit failed: device 'b1'" "$WORK/r4.txt"

# 3. the deadline: TIMEOUT, the cleanup cuts, at_exit = off holds
echo on > "$WORK/outlet"; : > "$WORK/log"
board_lab "$WORK/lab5.lua" 'at_exit = "off",'
"$OTAHIL" run $S/power_then_wait.lua --lab "$WORK/lab5.lua" --report "$WORK/r5" --timeout-multiplier "$M" > "$WORK/r5.txt" 2>&1
check "deadline: TIMEOUT" [ "$(outcome "$WORK/r5" '*')" = "TIMEOUT" ]
check "deadline: the board was switched off after" [ "$(tail -1 "$WORK/log")" = "off 4" ]
check "deadline: at_exit = off holds" [ "$(cat "$WORK/outlet")" = off ]

# 4. Ctrl-C while the board is on: cut at once, then at_exit (on by default: it was on before)
echo on > "$WORK/outlet"; : > "$WORK/log"
"$OTAHIL" run $S/power_then_wait.lua --lab "$WORK/lab1.lua" --report "$WORK/r6" --timeout-multiplier 100 > "$WORK/r6.txt" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "^on 4 b1$" "$WORK/log" 2>/dev/null && break; sleep 0.1; done
kill -INT "$pid"
timeout 30 tail --pid="$pid" -f /dev/null
wait "$pid"; rc=$?
check "Ctrl-C: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "Ctrl-C: the case is ERROR (interrupted)" grep -q "interrupted (SIGINT)" "$WORK/r6.txt"
check "Ctrl-C: cut (off), then restored (on)" [ "$(tail -2 "$WORK/log" | tr '\n' ' ')" = "off 4 on 4 b1 " ]
check "Ctrl-C: the outlet is on as before the run" [ "$(cat "$WORK/outlet")" = on ]
check "Ctrl-C: junit.xml is whole" xmllint --noout "$WORK/r6/junit.xml"

# 5. pdudaemon: Debian's daemon on 127.0.0.1, localcmdline writing the outlets' log
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/pdudaemon.conf" <<CONF
{ "daemon": { "hostname": "127.0.0.1", "port": $PORT, "logging_level": "DEBUG", "listener": "http" },
  "pdus": { "rack-pdu": { "driver": "localcmdline",
      "cmd_on": "echo on %s >> $WORK/outlets", "cmd_off": "echo off %s >> $WORK/outlets" } } }
CONF
PDUD=$(command -v pdudaemon || echo /usr/sbin/pdudaemon)
"$PDUD" --conf "$WORK/pdudaemon.conf" --logfile "$WORK/pdudaemon.log" &
PDU_PID=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
cat > "$WORK/lab7.lua" <<LAB
device "b1" {
  dialect = "qcloud", product = "P1", device = "b1", version = "1.0.0",
  kind = "board",
  power = { driver = "pdudaemon", daemon = "http://127.0.0.1:$PORT", hostname = "rack-pdu", port = 2, timeout = 20 },
}
LAB
cat > "$WORK/pdu_cycle.lua" <<'SC'
return { name = "pdudaemon cycle", dialect = "qcloud", timeout = 60, run = function(t)
  t.expect(t.device:power_state() == "unknown", "pdudaemon cannot tell the state")
  t.device:power_on()
  t.device:power_cycle { delay = 1 }
end }
SC
"$OTAHIL" run "$WORK/pdu_cycle.lua" --lab "$WORK/lab7.lua" --report "$WORK/r7" --timeout-multiplier "$M" > "$WORK/r7.txt" 2>&1
rc=$?
check "pdudaemon board: passes (exit $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || cat "$WORK/r7.txt"
check "pdudaemon board: start off, on, reboot (off, on), cleanup off, at exit on" \
  [ "$(tr '\n' ' ' < "$WORK/outlets" 2>/dev/null)" = "off 2 on 2 off 2 on 2 off 2 on 2 " ]
stop_pdu

# 6. process devices answer the same methods
cat > "$WORK/lab8.lua" <<'LAB'
device "p1" {
  dialect = "qcloud", product = "P1", device = "p1", version = "1.0.0",
  cmd = { "sh", "-c", "echo booted {device}; exec sleep 30" },
}
LAB
"$OTAHIL" run $S/process_power.lua --lab "$WORK/lab8.lua" --report "$WORK/r8" --timeout-multiplier "$M" > "$WORK/r8.txt" 2>&1
rc=$?
check "process device: cycle and state pass (exit $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || cat "$WORK/r8.txt"
# its cmd's {placeholders} are filled by lab_expand (harness/lab/lab_placeholders.h), an unknown one is a lab error
check "process device: {device} filled in its cmd" grep -q "booted p1" "$WORK/r8/report.json"
sed 's/{device}/{nope}/' "$WORK/lab8.lua" > "$WORK/lab8b.lua"
"$OTAHIL" run $S/process_power.lua --lab "$WORK/lab8b.lua" --report "$WORK/r8b" --timeout-multiplier "$M" > "$WORK/r8b.txt" 2>&1
rc=$?
check "process device, unknown placeholder: exit 2 (got $rc)" [ "$rc" -eq 2 ]
check "process device, unknown placeholder: the lab's line, device and placeholder" \
  grep -q "lab8b.lua:[0-9]*: device 'p1': cmd\[[0-9]*\] uses the unknown placeholder {nope}" "$WORK/r8b.txt"

# 7. a lab error is exit 2 with file:line, device and key
printf '%s\n' '-- rack 1' 'device "b1" {' '  dialect = "qcloud", product = "P1", device = "b1", version = "1",' \
  '  kind = "board",' '  power = { driver = "pdu", port = 3 },' '}' > "$WORK/rack1.lua"
"$OTAHIL" run $S/power_api.lua --lab "$WORK/rack1.lua" --report "$WORK/r9" > "$WORK/r9.txt" 2>&1
rc=$?
check "lab error: exit 2 (got $rc)" [ "$rc" -eq 2 ]
check "lab error: located, names the key and the choices" \
  grep -q "rack1.lua:2: device 'b1': power.driver 'pdu' is unknown (process, exec, pdudaemon, serial-dtr, http)" "$WORK/r9.txt"

finish
