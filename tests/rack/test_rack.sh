#!/usr/bin/env bash
# The rack proof (issue 6): otahil against "boards" built from real parts.
# Each board is otadev behind a pseudo-terminal kept by tests/rack/pty_board.py
# (its console, and a relay on a UNIX socket); Debian's ser2net shares both
# consoles over raw TCP on 127.0.0.1; pty-b1's power goes through Debian's
# pdudaemon (localcmdline), pty-b2's through otahil's exec driver. The lab is
# lab/examples/pty-board.lua with this run's ports and paths filled in.
#  1. pty-b1 (pdudaemon) with a deploy step that writes the 1.0.0 base image
#     back before every case: in ONE run the version report (01), the happy
#     path (02), power cuts on the "burning" report (14), on a console line
#     (examples/03) and on a body byte count (04), each landing mid-burn or
#     mid-download, all PASS; without the deploy the second upgrading case
#     fails; a failing deploy is an ERROR with one line and the run goes on;
#     a crash banner fails the case within a second; the console port vanishes
#     and returns mid-boot and no line is lost
#  2. pty-b2 (exec, a fresh flash per case): the whole Tencent suite and the
#     console-line cut in one run, unchanged
#  3. the emulated device (lab/emulated.lua): scenario 14 cuts mid-burn too
. "$(dirname "$0")/../e2e/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}
BOARD=$OTAHIL_SRC/tests/rack/pty_board.py
SC=tests/rack/scenarios
OTADEV=$(dirname "$OTAHIL")/drivers/emu/otadev
. "$OTAHIL_SRC/scripts/pty-rack" # rack_up, rack_down: the rack this test and scripts/pty-rack share
stop_all() { # every process this test started; boards kill their firmware
  if [ -n "${RUN_PID:-}" ]; then # as Ctrl-C: otahil cuts power, reaps and writes its reports
    kill -INT "$RUN_PID" 2>/dev/null
    for _ in $(seq 200); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$RUN_PID" 2>/dev/null
    wait "$RUN_PID" 2>/dev/null
  fi
  rack_down
}
trap 'stop_all; cleanup' EXIT

PATH=$PATH:/usr/sbin
rack_up "$WORK" "$OTADEV"
rc=$?
check "the rack is up: two boards, ser2net, pdudaemon (scripts/pty-rack's rack_up)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || { finish; exit 1; }
PDU=$RACK_PDU S2N1=$RACK_S2N1 S2N2=$RACK_S2N2 MQ1=$RACK_MQ1 HT1=$RACK_HT1 MQ2=$RACK_MQ2 HT2=$RACK_HT2
check "ser2net shares both consoles on 127.0.0.1" eval "rack__listening $S2N1 && rack__listening $S2N2"
check "pdudaemon listens on 127.0.0.1:$PDU" rack__listening "$PDU"
ctl() { timeout 15 python3 "$BOARD" ctl "$@"; }
check "the lab has this run's ports and paths" bash -c "grep -q 'tcp_port = $S2N2,' '$WORK/pty-board.lua' &&
  grep -q 'mqtt_port = $MQ1, http_port = $HT1' '$WORK/pty-board.lua' && grep -q '\"$BOARD\"' '$WORK/pty-board.lua' &&
  grep -q '127.0.0.1:$PDU\"' '$WORK/pty-board.lua' && ! grep -q 'tcp_port = 3001' '$WORK/pty-board.lua'"

# run NAME LAB OTAHIL_ARGS...: one otahil run into $WORK/NAME (+ NAME.txt); its status
# In the background, so that a signal to this test reaches stop_all at once
# (bash runs traps only between commands, and `wait` is one).
RUN_PID=
run() {
  local name=$1 lab=$2; shift 2
  timeout 150 "$OTAHIL" run "$@" --lab "$lab" --report "$WORK/$name" --timeout-multiplier "$M" \
    > "$WORK/$name.txt" 2>&1 &
  RUN_PID=$!
  wait $RUN_PID
  local rc=$?
  RUN_PID=
  return $rc
}
console_of() { echo "$WORK/$1/logs/$2.console"; }
show() { grep -E '^(PASS|FAIL|ERROR|TIMEOUT|SKIP) |^        [^l]' "$WORK/$1.txt"; }

# cut_in CONSOLE AFTER BEFORE: the first power cut after the line AFTER came
# before the firmware printed BEFORE (the next boot starts at "power on:")
cut_in() {
  python3 - "$@" <<'PY'
import sys
text = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
after, before = sys.argv[2], sys.argv[3]
i = text.find(after)
j = text.find("[otadev] power on:", i) if i >= 0 else -1
if i < 0 or j < 0:
    print("    no '%s' followed by a reboot in %s" % (after, sys.argv[1])); sys.exit(1)
if before in text[i:j]:
    print("    the cut came after '%s':" % before, text[i:j][-300:]); sys.exit(1)
PY
}

# ---- 1. pty-b1: power through pdudaemon, console through ser2net -------------
# every upgrading case expects the board on 1.0.0: the lab's deploy step puts
# the base image back before each one, with the power off
B1_CASES="scenarios/qcloud/01_version_after_boot.lua scenarios/qcloud/02_happy_path.lua
  scenarios/qcloud/04_resume_after_power_cut.lua scenarios/qcloud/14_power_cut_burning.lua
  scenarios/examples/03_console_power_cut.lua"
# shellcheck disable=SC2086
run b1 "$WORK/pty-board.lua" $B1_CASES --filter '*@pty-b1'
rc=$?; show b1
outcomes=$(outcome "$WORK/b1" '*')
check "pdudaemon board: 5 cases (01, 02, 04, 14, examples/03) in one run all pass ($outcomes; rc $rc)" \
  [ "$rc" -eq 0 -a "$outcomes" = "PASS PASS PASS PASS PASS" ]
deployed=$(python3 - "$WORK/b1/report.json" <<'PY'
import json, sys
bad = []
for s in json.load(open(sys.argv[1]))["scenarios"]:
    ev = s["events"]
    dep = [e for e in ev if e["kind"] == "deploy"]
    out = [e["line"] for e in ev if e["kind"] == "deploy.out"]
    # the flasher ran (the relay refuses it while the board is on), then the body
    first_on = next((i for i, e in enumerate(ev) if e["kind"] == "power" and e.get("state") == "on"), len(ev))
    done = next((i for i, e in enumerate(ev) if e["kind"] == "deploy" and e.get("state") == "done"), None)
    if [e["state"] for e in dep] != ["start", "done"] or done is None or done > first_on or \
            not any("flashed" in l and "version 1.0.0" in l for l in out) or dep[1].get("seconds", -1) < 0:
        bad.append(s["id"])
print(" ".join(bad) or "ok")
PY
)
check "pdudaemon board: every case was deployed (1.0.0 flashed, power off, before power on) ($deployed)" \
  [ "$deployed" = ok ]
first_boots=$(for id in qcloud/01_version_after_boot qcloud/02_happy_path qcloud/04_resume_after_power_cut \
  qcloud/14_power_cut_burning examples/03_console_power_cut; do
  grep -m1 -o 'boot slot=[ab] version=[0-9.]*' "$(console_of b1 "$id@pty-b1")" || echo none; done | sort | uniq -c | xargs)
check "pdudaemon board: each case's first boot ran the base image ($first_boots)" \
  [ "$first_boots" = "5 boot slot=a version=1.0.0" ]
C=$(console_of b1 qcloud/02_happy_path@pty-b1)
check "pdudaemon board: its console came through ser2net (upgrade done, boot of 2.0.0)" \
  bash -c "grep -q 'upgrade done version=2.0.0' '$C' && grep -q 'boot slot=b version=2.0.0' '$C'"
check "pdudaemon board: power events come from the pdudaemon driver" \
  grep -q 'power .*state=on how=pdudaemon' "$WORK/b1/logs/qcloud/02_happy_path@pty-b1.log"
check "pdudaemon board: the deploy's output is in the case log" \
  grep -q 'deploy.out device=pty-b1 stream=stdout line=flashed .* (version 1.0.0)' "$WORK/b1/logs/qcloud/14_power_cut_burning@pty-b1.log"
check "pdudaemon board: off after the run (at_exit = off)" [ "$(ctl "$WORK/outlet-1.sock" state)" = off ]
check "pdudaemon board: 14's cut landed mid-burn" \
  cut_in "$(console_of b1 qcloud/14_power_cut_burning@pty-b1)" "burning version=2.0.0" "upgrade done"
check "pdudaemon board: the console-line cut landed after 'burning step 1/', before the burn ended" \
  cut_in "$(console_of b1 examples/03_console_power_cut@pty-b1)" "burning step 1/" "upgrade done"
check "pdudaemon board: 04's cut landed mid-download" \
  cut_in "$(console_of b1 qcloud/04_resume_after_power_cut@pty-b1)" "download start offset=0" "download finished"

# the hook matters: the same lab without the deploy, from an empty flash, fails
# the second upgrading case (the board is still on 2.0.0)
sed '/^  deploy = {/,/timeout = 30 },$/d' "$WORK/pty-board.lua" > "$WORK/pty-board-nodeploy.lua"
check "the lab variant has no deploy" bash -c "! grep -q 'deploy = ' '$WORK/pty-board-nodeploy.lua' &&
  grep -q 'deploy = ' '$WORK/pty-board.lua'"
check "pty-b1 is off and its flash is erased" bash -c \
  "[ \"\$(timeout 15 python3 '$BOARD' ctl '$WORK/outlet-1.sock' state)\" = off ] &&
   timeout 15 python3 '$BOARD' ctl '$WORK/outlet-1.sock' flash > /dev/null"
run b1-nodeploy "$WORK/pty-board-nodeploy.lua" scenarios/qcloud/02_happy_path.lua \
  scenarios/qcloud/14_power_cut_burning.lua --filter '*@pty-b1'
rc=$?; show b1-nodeploy
o2=$(outcome "$WORK/b1-nodeploy" '*02_happy_path*'); o14=$(outcome "$WORK/b1-nodeploy" '*14_power_cut*')
check "without the deploy: 02 passes, then 14 fails on the kept 2.0.0 (02 $o2, 14 $o14; rc $rc)" \
  [ "$o2" = PASS -a "$o14" = FAIL -a "$rc" -eq 1 ]
check "without the deploy: 14 waited for 1.0.0 and the board booted the 2.0.0 it kept" bash -c \
  "grep -q \"14_power_cut_burning.lua:[0-9]*: device 'pty-b1' (OTAHILPB01/pty-b1): no report_version 1.0.0\" '$WORK/b1-nodeploy.txt' &&
   grep -m1 'boot slot=' '$(console_of b1-nodeploy qcloud/14_power_cut_burning@pty-b1)' | grep -q 'slot=b version=2.0.0'"

# a failing flasher: each case is an ERROR with one line, the run goes on
# with the next case (which deploys again), the reports are whole
sed 's|"flash", "{image}" }, timeout = 30 }|"flash", "/nonexistent/base.bin" }, timeout = 30 }|' \
  "$WORK/pty-board.lua" > "$WORK/pty-board-badflash.lua"
run b1-badflash "$WORK/pty-board-badflash.lua" scenarios/qcloud/01_version_after_boot.lua \
  scenarios/qcloud/02_happy_path.lua --filter '*@pty-b1'
rc=$?; show b1-badflash
check "failing deploy: both cases are ERROR, rc 1 ($(outcome "$WORK/b1-badflash" '*'); rc $rc)" \
  [ "$(outcome "$WORK/b1-badflash" '*')" = "ERROR ERROR" -a "$rc" -eq 1 ]
check "failing deploy: one line naming the lab, the device, the status and the flasher's complaint" \
  [ "$(grep -c "pty-board-badflash.lua:[0-9]*: device 'pty-b1': deploy exited 1 after [0-9.]* s: pty_board: error flash /nonexistent/base.bin: .*No such file.* (see the case log)$" "$WORK/b1-badflash.txt")" -eq 2 ]
check "failing deploy: the reports are whole (JSON, JUnit, each case's log)" python3 - "$WORK/b1-badflash" <<'PY'
import json, sys, os, xml.etree.ElementTree as ET
d = sys.argv[1]
doc = json.load(open(d + "/report.json"))
assert doc["summary"]["error"] == 2 and doc["summary"]["total"] == 2, doc["summary"]
assert int(ET.parse(d + "/junit.xml").getroot().get("errors")) == 2
for s in doc["scenarios"]:
    assert os.path.getsize(s["log"]) > 0 and [e["state"] for e in s["events"] if e["kind"] == "deploy"] == ["start", "failed"]
PY
check "failing deploy: the board was never powered on" \
  bash -c "! grep -q 'state=on' '$WORK/b1-badflash/logs/'*/*.log"

# a crash banner: FAIL with the line, within a second of the "panic" sent
run b1-panic "$WORK/pty-board.lua" $SC/panic.lua --filter '*@pty-b1'
rc=$?
check "crash banner: the run fails (rc $rc)" [ "$rc" -eq 1 ]
check "crash banner: the case is FAIL" [ "$(outcome "$WORK/b1-panic" '*')" = FAIL ]
check "crash banner: the message has the device, the pattern and the whole line" grep -q \
  "device 'pty-b1': console death pattern 'Guru Meditation': Guru Meditation Error: Core  0 panic'ed (LoadProhibited)" \
  "$WORK/b1-panic.txt"
fast=$(python3 - "$WORK/b1-panic/report.json" "$M" <<'PY'
import json, sys
m = float(sys.argv[2])
s = json.load(open(sys.argv[1]))["scenarios"][0]
t = {}
for e in s["events"]:
    t.setdefault(e["kind"], e["t"])
# the banner goes out through ser2net, the board, ser2net again; the FAIL
# must follow the "panic" sent within a second
need = ("uart.send", "console.death", "outcome")
if not all(k in t for k in need):
    print("missing events", [k for k in need if k not in t])
elif t["outcome"] - t["uart.send"] < 1.0 * m and t["outcome"] >= t["console.death"]:
    print("ok")
else:
    print("send %.3f death %.3f outcome %.3f" % tuple(t[k] for k in need))
PY
)
check "crash banner: FAIL within a second of the crash ($fast)" [ "$fast" = ok ]

# the adapter vanishes mid-boot (at the firmware's first line) and returns
# 0.7 s later; what the board printed meanwhile follows, and no line is lost
: > "$WORK/pty-b1.transcript"
check "the board arms an unplug at its next boot" \
  bash -c "timeout 15 python3 '$BOARD' ctl '$WORK/outlet-1.sock' unplug dialect=qcloud 0.7 > /dev/null"
run b1-unplug "$WORK/pty-board.lua" $SC/boot_console.lua --filter '*@pty-b1'
rc=$?; show b1-unplug
check "unplug mid-boot: the case passes (rc $rc)" [ "$(outcome "$WORK/b1-unplug" '*')" = PASS ]
same=$(python3 - "$(console_of b1-unplug scenarios/boot_console@pty-b1)" "$WORK/pty-b1.transcript" <<'PY'
import sys
got = open(sys.argv[1], "rb").read().split(b"\r\n")
sent = open(sys.argv[2], "rb").read().split(b"\r\n")
# the case ends with the board quiet, so the console holds all it printed
# before the cut (bytes of the cut's own moment may still be on their way)
if len(got) >= 4 and got[:-1] == sent[:len(got) - 1] and len(sent) - len(got) <= 1:
    print("ok")
else:
    print("got %d lines, sent %d; first difference at %s" % (len(got), len(sent),
          next((i for i, (a, b) in enumerate(zip(got, sent)) if a != b), "the end")))
PY
)
check "unplug mid-boot: every line the board printed is in the saved console, in order ($same)" [ "$same" = ok ]
gap=$(python3 - "$WORK/b1-unplug/report.json" <<'PY'
import json, sys
ev = json.load(open(sys.argv[1]))["scenarios"][0]["events"]
g = [e for e in ev if e["kind"] == "console.gap" and e.get("bytes_before", 0) > 0]
print("ok" if len(g) == 1 and g[0]["seconds"] >= 0.5 else g)
PY
)
check "unplug mid-boot: one console.gap of ~0.7 s after the first line ($gap)" [ "$gap" = ok ]
check "pdudaemon board: the daemon served the requests" grep -q "pty-pdu" "$WORK/pdudaemon.log"

# ---- 2. pty-b2: exec power, a fresh flash per case: the suite in one run -----
run b2 "$WORK/pty-board.lua" scenarios/qcloud scenarios/examples/03_console_power_cut.lua --filter '*@pty-b2'
rc=$?; show b2
outcomes=$(outcome "$WORK/b2" '*')
n=$(echo "$outcomes" | wc -w)
bad=$(echo "$outcomes" | tr ' ' '\n' | grep -cv '^PASS$')
check "exec board: 17 cases ran (got $n)" [ "$n" -eq 17 ]
check "exec board: the Tencent suite and the console-line cut pass unchanged ($bad did not; rc $rc)" \
  [ "$rc" -eq 0 -a "$bad" -eq 0 ]
check "exec board: 14's cut landed mid-burn" \
  cut_in "$(console_of b2 qcloud/14_power_cut_burning@pty-b2)" "burning version=2.0.0" "upgrade done"
check "exec board: off after the run (the state before it)" [ "$(ctl "$WORK/pty-b2.sock" state)" = off ]

# ---- 3. the emulated device: scenario 14 cuts mid-burn there too -------------
# a burn as long as the boards' (1.5 s), so "mid-burn" does not hang on the
# scheduler of a loaded machine
sed 's/burn_ms = 300/burn_ms = 1500/' lab/emulated.lua > "$WORK/emulated.lua"
run emu-14 "$WORK/emulated.lua" scenarios/qcloud/14_power_cut_burning.lua --filter '*@emu-qcloud'
rc=$?; show emu-14
check "emulated device: 14 passes (rc $rc)" [ "$(outcome "$WORK/emu-14" '*')" = PASS ]
check "emulated device: 14's cut landed mid-burn" \
  cut_in "$(console_of emu-14 qcloud/14_power_cut_burning@emu-qcloud)" "burning version=2.0.0" "upgrade done"

stop_all
left=$(pgrep -f "$WORK" | tr '\n' ' ')
check "nothing of the rack outlives the test (${left:-none})" [ -z "$left" ]
finish
