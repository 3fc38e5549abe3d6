#!/usr/bin/env bash
# UART consoles end to end, with real parts: boards on pseudo-terminals
# (board.py), Debian's ser2net sharing one over TCP on 127.0.0.1, otahil runs.
#  A. tcp through ser2net, and ser2net restarts mid-stream: no line is lost
#  B. serial: the port (a symlink to a pty) goes away and comes back: no line lost
#  C. tcp through ser2net while the board's adapter re-enumerates behind it
#  D. death patterns fail the scenario within a second, with the line
#  E. the uart API on a pty (byte-at-a-time banner, readers, send, settle), the
#     timeout message, and the raw console saved next to the case's log
. "$(dirname "$0")/../e2e/lib.sh"
. "$OTAHIL_SRC/tests/uart/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}
SC=tests/uart/scenarios

# board_lab OUT NAME CONSOLE BOARD_ARGS...: a lab whose device is board.py
board_lab() {
  local out=$1 name=$2 console=$3; shift 3
  local args=""
  for a in "$@"; do args="$args, \"$a\""; done
  cat > "$out" <<LAB
device "$name" {
  dialect = "qcloud", product = "P", device = "$name", version = "1.0.0",
  cmd = { "/usr/bin/python3", "$OTAHIL_SRC/tests/uart/board.py"$args },
  console = $console,
  timing = { lines = 60 },
}
LAB
}

# lines_ok FILE: the saved console holds line 0001..0060 once each, in order, then done
lines_ok() {
  python3 - "$1" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read().decode("ascii", "replace")
nums = [int(x) for x in re.findall(r"line (\d{4})\r\n", data)]
ok = nums == list(range(1, 61)) and data.rstrip().endswith("done")
if not ok:
    print("lines:", nums[:5], "...", len(nums), "missing:", sorted(set(range(1, 61)) - set(nums)))
sys.exit(0 if ok else 1)
PY
}

# events REPORT_DIR CASE KIND: the events of a kind, one JSON per line
events() {
  python3 - "$1/report.json" "$2" "$3" <<'PY'
import json, sys
for s in json.load(open(sys.argv[1]))["scenarios"]:
    if s["id"] == sys.argv[2]:
        for e in s["events"]:
            if e["kind"] == sys.argv[3]:
                print(json.dumps(e))
PY
}

wait_progress() { # wait_progress FILE N SECONDS
  local end=$((SECONDS + $3))
  while [ $SECONDS -lt $end ]; do
    [ "$(cat "$1" 2>/dev/null || echo 0)" -ge "$2" ] 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# ---- A. ser2net restarts mid-stream ----------------------------------------
PA=$(free_port)
start_ser2net s2na tcp "$PA" "$WORK/ttyA"
check "A: ser2net listens on 127.0.0.1:$PA" kill -0 "$S2N_LAST"
board_lab "$WORK/labA.lua" boardA "{ transport = \"tcp\", host = \"127.0.0.1\", tcp_port = $PA, retry = 0.1 }" \
  --link "$WORK/ttyA" --lines 60 --interval 0.01 --pause-after 25 --pause 2 --progress "$WORK/progA"
timeout 120 "$OTAHIL" run $SC/lines.lua --lab "$WORK/labA.lua" --report "$WORK/a" --timeout-multiplier "$M" > "$WORK/a.txt" 2>&1 &
run=$!
if wait_progress "$WORK/progA" 25 60; then
  at=$(cat "$WORK/progA")
  kill "$S2N_LAST"; wait "$S2N_LAST" 2>/dev/null
  sleep 0.5
  start_ser2net s2na tcp "$PA" "$WORK/ttyA"
  check "A: ser2net was restarted while the board was quiet (after line $at)" [ "$at" -eq 25 ]
else
  not_ok "A: the board wrote 25 lines"
fi
wait $run
rc=$?
check "A: the run passed (rc $rc)" [ "$rc" -eq 0 ]
check "A: every line arrived once, in order" lines_ok "$WORK/a/logs/scenarios/lines@boardA.console"
gapA=$(events "$WORK/a" "scenarios/lines@boardA" console.gap | python3 -c '
import json, sys
g = [json.loads(l) for l in sys.stdin if json.loads(l)["bytes_before"] > 0]
print("ok" if len(g) == 1 and g[0]["bytes_before"] == 25 * 11 and g[0]["up"] > g[0]["down"] and "tcp 127.0.0.1" in g[0]["port"] else g)')
check "A: one console.gap after line 25 ($gapA)" [ "$gapA" = "ok" ]
downA=$(events "$WORK/a" "scenarios/lines@boardA" console.down | grep -c "closed the connection")
check "A: console.down says the server closed the connection" [ "$downA" -ge 1 ]
stop_ser2net

# ---- B. a serial port that goes away and comes back ------------------------
board_lab "$WORK/labB.lua" boardB "{ transport = \"serial\", port = \"$WORK/ttyB\", baud = 115200, retry = 0.05 }" \
  --link "$WORK/ttyB" --lines 60 --interval 0.01 --unplug-after 25 --unplug 0.5
timeout 120 "$OTAHIL" run $SC/lines.lua --lab "$WORK/labB.lua" --report "$WORK/b" --timeout-multiplier "$M" > "$WORK/b.txt" 2>&1
rc=$?
check "B: the run passed (rc $rc)" [ "$rc" -eq 0 ]
check "B: every line arrived once, in order" lines_ok "$WORK/b/logs/scenarios/lines@boardB.console"
gapB=$(events "$WORK/b" "scenarios/lines@boardB" console.gap | python3 -c '
import json, sys
g = [json.loads(l) for l in sys.stdin if json.loads(l)["bytes_before"] > 0]
print("ok" if len(g) == 1 and g[0]["bytes_before"] == 25 * 11 and g[0]["seconds"] >= 0.4 else g)')
check "B: one console.gap of ~0.5 s after line 25 ($gapB)" [ "$gapB" = "ok" ]

# ---- C. the adapter re-enumerates behind ser2net ---------------------------
PC=$(free_port)
start_ser2net s2nc tcp "$PC" "$WORK/ttyC"
board_lab "$WORK/labC.lua" boardC "{ transport = \"tcp\", host = \"127.0.0.1\", tcp_port = $PC, retry = 0.1 }" \
  --link "$WORK/ttyC" --lines 60 --interval 0.01 --unplug-after 25 --unplug 0.7
timeout 120 "$OTAHIL" run $SC/lines.lua --lab "$WORK/labC.lua" --report "$WORK/c" --timeout-multiplier "$M" > "$WORK/c.txt" 2>&1
rc=$?
check "C: the run passed (rc $rc)" [ "$rc" -eq 0 ]
check "C: every line arrived once, in order" lines_ok "$WORK/c/logs/scenarios/lines@boardC.console"
check "C: ser2net's 'Device open failure' is not console output" bash -c "! grep -q 'Device open failure' '$WORK/c/logs/scenarios/lines@boardC.console'"
stop_ser2net

# ---- D. death patterns -----------------------------------------------------
cat > "$WORK/labD.lua" <<'LAB'
device "panic" { dialect = "qcloud", product = "P", device = "panic", version = "1.0.0",
  cmd = { "/bin/sh", "-c", "echo booting; sleep 0.3; echo '[    1.000] Kernel panic - not syncing: VFS: Unable to mount root fs'; sleep 30" },
  console = { death = { "Kernel panic", { re = "Guru Meditation [0-9]+" } } } }
device "guru" { dialect = "qcloud", product = "P", device = "guru", version = "1.0.0",
  cmd = { "/bin/sh", "-c", "echo booting; sleep 0.3; printf 'Guru Meditation 00000004'; sleep 30" },
  console = { death = { "Kernel panic", { re = "Guru Meditation [0-9]+" } } } }
LAB
timeout 120 "$OTAHIL" run $SC/death.lua --lab "$WORK/labD.lua" --report "$WORK/d" --timeout-multiplier "$M" > "$WORK/d.txt" 2>&1
rc=$?
check "D: a death pattern fails the run (rc $rc)" [ "$rc" -eq 1 ]
check "D: both cases FAIL" [ "$(outcome "$WORK/d" '*')" = "FAIL FAIL" ]
check "D: the message has the whole panic line" grep -q "device 'panic': console death pattern 'Kernel panic': \[    1.000\] Kernel panic - not syncing: VFS: Unable to mount root fs" "$WORK/d.txt"
check "D: a banner without a line end is caught too" grep -q "device 'guru': console death pattern 'Guru Meditation \[0-9\]+': Guru Meditation 00000004" "$WORK/d.txt"
fastD=$(python3 - "$WORK/d/report.json" "$M" <<'PY'
import json, sys
m = float(sys.argv[2])
out = []
for s in json.load(open(sys.argv[1]))["scenarios"]:
    ev = s["events"]
    on = next(e["t"] for e in ev if e["kind"] == "power" and e.get("state") == "on")
    dead = next(e["t"] for e in ev if e["kind"] == "console.death")
    fail = next(e["t"] for e in ev if e["kind"] == "outcome")
    # the banner comes 0.3 s after power on; the FAIL must follow within a second
    out.append(fail - on < 0.3 + 1.0 * m and fail - dead < 0.5 * m and s["duration"] < 2 * m)
print("ok" if out and all(out) else out)
PY
)
check "D: the scenario fails within a second of the banner ($fastD)" [ "$fastD" = "ok" ]

# ---- E. the API on a pty, the timeout message, the saved console ----------
cat > "$WORK/labE.lua" <<LAB
device "echo" { dialect = "qcloud", product = "P", device = "echo", version = "1.0.0",
  cmd = { "/usr/bin/python3", "$OTAHIL_SRC/tests/uart/echo_board.py" } }
LAB
timeout 120 "$OTAHIL" run $SC/api.lua $SC/expect_timeout.lua --lab "$WORK/labE.lua" --report "$WORK/e" --timeout-multiplier "$M" > "$WORK/e.txt" 2>&1
check "E: the uart API scenario passes" [ "$(outcome "$WORK/e" 'scenarios/api@echo')" = "PASS" ]
check "E: an unmet expect is FAIL" [ "$(outcome "$WORK/e" 'scenarios/expect_timeout@echo')" = "FAIL" ]
check "E: the FAIL names the line, the pattern, the last lines and the log" grep -qF \
  "expect_timeout.lua:10: uart:expect(\"never printed\") on device 'echo' timed out after $(python3 -c "print('%g' % (1 * $M))") s; last lines: \"U-Boot 2024.01 (otahil) | login: \"; log: $WORK/e/logs/scenarios/expect_timeout@echo.log" "$WORK/e.txt"
check "E: the raw console is saved next to the log" cmp -s <(printf 'U-Boot 2024.01 (otahil)\r\nlogin: ') "$WORK/e/logs/scenarios/expect_timeout@echo.console"
check "E: report.json names the console file" python3 -c "
import json, sys
s = [s for s in json.load(open('$WORK/e/report.json'))['scenarios'] if s['id'] == 'scenarios/api@echo'][0]
sys.exit(0 if s['console'].endswith('logs/scenarios/api@echo.console') else 1)"
check "E: matches and sends are events" bash -c "grep -q 'uart.match' '$WORK/e/logs/scenarios/api@echo.log' && grep -q 'uart.send' '$WORK/e/logs/scenarios/api@echo.log'"
check "E: console lines stay events" grep -q "console   device=echo line=U-Boot 2024.01 (otahil)" "$WORK/e/logs/scenarios/api@echo.log"

finish
