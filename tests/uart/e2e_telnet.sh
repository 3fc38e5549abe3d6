#!/usr/bin/env bash
# Telnet consoles end to end, with real parts: a board on a pseudo-terminal
# (telnet_board.py) shared by Debian's ser2net with a telnet accepter on
# 127.0.0.1, otahil runs scenarios/telnet.lua against it.
#  T1. accepter telnet, transport "telnet": PASS; the saved console is exactly
#      the board's bytes (its 0xFF once, no negotiation); the board read
#      "root\xffpw\r\n" as sent; the line speed is ser2net's (115200)
#  T2. accepter telnet(rfc2217), transport "telnet" with baud = 9600: PASS, and
#      the board's line runs at 9600 (ser2net's own setting is 115200)
#  T3. the same accepter through transport "tcp": FAIL, and the saved console
#      holds the negotiation bytes and a doubled 0xFF (the test can fail)
#  T4. baud = 9600 at a plain telnet accepter: the console never comes up and
#      the FAIL says the server refused RFC 2217
. "$(dirname "$0")/../e2e/lib.sh"
. "$OTAHIL_SRC/tests/uart/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}
SC=tests/uart/scenarios

# board_lab OUT NAME CONSOLE BAUD: a lab whose device is telnet_board.py on LINK
board_lab() {
  cat > "$1" <<LAB
device "$2" {
  dialect = "qcloud", product = "P", device = "$2", version = "1.0.0",
  cmd = { "/usr/bin/python3", "$OTAHIL_SRC/tests/uart/telnet_board.py", "--link", "$WORK/tty-$2" },
  console = $3,
  timing = { baud = $4 },
}
LAB
}

# console_is FILE BAUD: the saved console is exactly what the board wrote
console_is() {
  cmp -s "$1" <(printf 'U-Boot 2024.01\r\nkey \377\376 end\r\nlogin: got 726f6f74ff70770d0a baud %s\r\n' "$2")
}

# lines_are REPORT CASE BAUD: the case's console line events are the board's
# three lines exactly (report.json shows a byte that is not UTF-8, the board's
# 0xFF and 0xFE, as U+FFFD: two of them, not three)
lines_are() {
  python3 - "$1/report.json" "$2" "$3" <<'PY'
import json, sys
want = ["U-Boot 2024.01", "key \ufffd\ufffd end", "login: got 726f6f74ff70770d0a baud " + sys.argv[3]]
for s in json.load(open(sys.argv[1]))["scenarios"]:
    if s["id"] == sys.argv[2]:
        lines = [e["line"] for e in s["events"] if e["kind"] == "console"]
        if lines != want:
            print("lines:", lines)
        sys.exit(0 if lines == want else 1)
sys.exit(1)
PY
}

# ---- T1. telnet accepter, telnet transport ---------------------------------
P1=$(free_port)
check "T1: ser2net listens (accepter telnet) on 127.0.0.1:$P1" start_ser2net s1 telnet "$P1" "$WORK/tty-t1"
board_lab "$WORK/lab1.lua" t1 "{ transport = \"telnet\", host = \"127.0.0.1\", tcp_port = $P1, retry = 0.1 }" 115200
timeout 120 "$OTAHIL" run $SC/telnet.lua --lab "$WORK/lab1.lua" --report "$WORK/r1" --timeout-multiplier "$M" > "$WORK/r1.txt" 2>&1
rc=$?
check "T1: the run passed (rc $rc)" [ "$rc" -eq 0 ]
check "T1: the saved console is the board's bytes exactly" console_is "$WORK/r1/logs/scenarios/telnet@t1.console" 115200
check "T1: the console lines carry no telnet bytes" lines_are "$WORK/r1" "scenarios/telnet@t1" 115200
check "T1: the log shows the line with its 0xFF once" grep -qF 'line=key \xFF\xFE end' "$WORK/r1/logs/scenarios/telnet@t1.log"
[ "$rc" -eq 0 ] || sed 's/^/  | /' "$WORK/r1.txt"

# ---- T2. telnet(rfc2217) accepter, baud = 9600 -----------------------------
P2=$(free_port)
check "T2: ser2net listens (accepter telnet(rfc2217)) on 127.0.0.1:$P2" start_ser2net s2 "telnet(rfc2217)" "$P2" "$WORK/tty-t2"
board_lab "$WORK/lab2.lua" t2 "{ transport = \"telnet\", host = \"127.0.0.1\", tcp_port = $P2, retry = 0.1, baud = 9600 }" 9600
timeout 120 "$OTAHIL" run $SC/telnet.lua --lab "$WORK/lab2.lua" --report "$WORK/r2" --timeout-multiplier "$M" > "$WORK/r2.txt" 2>&1
rc=$?
check "T2: the run passed, the board's line set to 9600 through RFC 2217 (rc $rc)" [ "$rc" -eq 0 ]
check "T2: the saved console is the board's bytes exactly" console_is "$WORK/r2/logs/scenarios/telnet@t2.console" 9600
[ "$rc" -eq 0 ] || sed 's/^/  | /' "$WORK/r2.txt"

# ---- T3. the telnet accepter through a raw tcp console ----------------------
board_lab "$WORK/lab3.lua" t1 "{ transport = \"tcp\", host = \"127.0.0.1\", tcp_port = $P1, retry = 0.1 }" 115200
timeout 120 "$OTAHIL" run $SC/telnet.lua --lab "$WORK/lab3.lua" --report "$WORK/r3" --timeout-multiplier "$M" > "$WORK/r3.txt" 2>&1
rc=$?
check "T3: through raw tcp the same scenario fails (rc $rc)" [ "$rc" -eq 1 ]
check "T3: ... and the FAIL is the first line, which the negotiation bytes spoil" grep -q 'uart:expect("^U-Boot 2024.01' "$WORK/r3.txt"
check "T3: the raw console holds ser2net's negotiation and a doubled 0xFF" python3 -c "
import sys
d = open('$WORK/r3/logs/scenarios/telnet@t1.console', 'rb').read()
sys.exit(0 if d.startswith(b'\xff\xfb\x03') and b'key \xff\xff\xfe end' in d else 1)"
stop_ser2net

# ---- T4. baud at a telnet accepter without RFC 2217 -------------------------
P4=$(free_port)
start_ser2net s4 telnet "$P4" "$WORK/tty-t4"
board_lab "$WORK/lab4.lua" t4 "{ transport = \"telnet\", host = \"127.0.0.1\", tcp_port = $P4, retry = 0.1, baud = 9600 }" 9600
timeout 120 "$OTAHIL" run $SC/telnet_refused.lua --lab "$WORK/lab4.lua" --report "$WORK/r4" --timeout-multiplier "$M" > "$WORK/r4.txt" 2>&1
rc=$?
check "T4: the run fails (rc $rc)" [ "$rc" -eq 1 ]
check "T4: the FAIL says the console is down because RFC 2217 was refused" grep -q \
  "console telnet 127.0.0.1:$P4 (RFC 2217, baud 9600) is down: 127.0.0.1:$P4: the telnet server refused RFC 2217 (COM-PORT-OPTION), so baud 9600 cannot be set" "$WORK/r4.txt"
check "T4: nothing from the refusing server was captured" [ ! -s "$WORK/r4/logs/scenarios/telnet_refused@t4.console" ]
[ "$rc" -eq 1 ] || sed 's/^/  | /' "$WORK/r4.txt"
stop_ser2net

finish
