#!/usr/bin/env bash
# The deploy step (lab key `deploy`, harness/device/device_deploy.h) end to end, on
# the emulated qcloud device of lab/emulated.lua with a deploy added by sed
# (tests/rack/test_rack.sh shows it on a board behind pdudaemon and ser2net):
#  1. a flasher that fails once: that case is an ERROR with one line naming
#     the lab, the device, the status and the flasher's last words; the next
#     case deploys again (placeholders filled) and passes
#  2. `false`: every case an ERROR, the run goes on, the reports are whole
#  3. `sleep 60` with timeout = 1: killed after ~1 s, ERROR, nothing left
#  4. Ctrl-C during a deploy: it is killed, the case is ERROR, the rest SKIP,
#     the reports are whole
#  5. a base_image that does not exist: exit 2 with one located line
#  6. a deploy that leaves a process behind (`sleep & echo flashed`): the case
#     passes, and the process is killed with the deploy's process group
. "$(dirname "$0")/../e2e/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}
TAG=$RANDOM$RANDOM # marks this test's sleeps among the machine's processes
RUN_PID=
stop_run() { # as Ctrl-C would: otahil cleans up and writes its reports
  [ -n "$RUN_PID" ] || return 0
  kill -INT "$RUN_PID" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$RUN_PID" 2>/dev/null
  wait "$RUN_PID" 2>/dev/null
  RUN_PID=
}
trap 'stop_run; cleanup' EXIT

# lab_with_deploy OUT 'LUA': lab/emulated.lua whose emu-qcloud has `deploy = LUA`
lab_with_deploy() {
  local out=$1 lua=$2
  awk -v add="  deploy = $lua, base_image = otadev_image { version = \"1.0.0\", size = 4096 }," '
    { print } /^device "emu-qcloud"/ { inside = 1 } inside && /kind = "process",/ { print add; inside = 0 }' \
    lab/emulated.lua > "$out"
  grep -q "deploy = " "$out"
}
# run NAME LAB ARGS...: one otahil run on emu-qcloud into $WORK/NAME (+ NAME.txt)
run() {
  local name=$1 lab=$2; shift 2
  timeout 120 "$OTAHIL" run "$@" --lab "$lab" --report "$WORK/$name" --filter '*@emu-qcloud' \
    --timeout-multiplier "$M" > "$WORK/$name.txt" 2>&1
}
# whole DIR N: report.json, junit.xml and every case's log are there and agree on N cases
whole() {
  python3 - "$1" "$2" <<'PY'
import json, os, sys, xml.etree.ElementTree as ET
d, n = sys.argv[1], int(sys.argv[2])
doc = json.load(open(d + "/report.json"))
junit = ET.parse(d + "/junit.xml").getroot()
cases = [s for s in doc["scenarios"] if s["id"] != "otahil/run"]  # the run's own entry is not a case
ok = len(cases) == n and doc["summary"]["total"] == len(doc["scenarios"]) == int(junit.get("tests"))
ok = ok and all(os.path.getsize(s["log"]) > 0 for s in cases if s["outcome"] != "SKIP")
sys.exit(0 if ok else 1)
PY
}
# sleeps of this test still running (zombies waiting for init do not count)
sleeps() { ps -eo stat=,args= | awk -v t="$TAG" '$1 !~ /^Z/ && $2 == "sleep" && index($3, t)' | wc -l; }
A=scenarios/qcloud/01_version_after_boot.lua
B=scenarios/qcloud/02_happy_path.lua

# 1. fails once, then deploys again and passes
FLASHER="if [ -e $WORK/flashed-once ]; then echo flashing {image} for {name} into {state_dir}; else touch $WORK/flashed-once;"
FLASHER="$FLASHER echo 'st-flash 1.7.0' >&2; echo 'Could not find any ST-Link devices' >&2; exit 3; fi"
lab_with_deploy "$WORK/once.lua" "{ cmd = { \"/bin/sh\", \"-c\", \"$FLASHER\" }, timeout = 20 }"
run once "$WORK/once.lua" $A $B
rc=$?
check "fails once: the first case is ERROR, the second deploys again and passes (rc $rc)" \
  [ "$(outcome "$WORK/once" '*')" = "ERROR PASS" -a "$rc" -eq 1 ]
check "fails once: one line with the lab, the device, the status and the flasher's last line" \
  grep -qE "^        $WORK/once.lua:[0-9]+: device 'emu-qcloud': deploy exited 3 after [0-9.]+ s: Could not find any ST-Link devices \(see the case log\)$" "$WORK/once.txt"
check "fails once: the case log has the flasher's whole output, tagged" bash -c \
  "grep -q 'deploy.out device=emu-qcloud stream=stderr line=st-flash 1.7.0' '$WORK/once/logs/qcloud/01_version_after_boot@emu-qcloud.log' &&
   grep -q 'deploy    device=emu-qcloud state=failed seconds=' '$WORK/once/logs/qcloud/01_version_after_boot@emu-qcloud.log'"
check "fails once: the passing case's deploy got {image}, {name} and its own {state_dir}" grep -qE \
  "deploy.out device=emu-qcloud stream=stdout line=flashing $WORK/once/work/images/otadev-1.0.0-4096-0-[0-9a-f]*.bin for emu-qcloud into $WORK/once/work/qcloud/02_happy_path@emu-qcloud/state" \
  "$WORK/once/logs/qcloud/02_happy_path@emu-qcloud.log"
check "fails once: the deploy came before the device was powered" python3 - "$WORK/once/report.json" <<'PY'
import json, sys
s = [s for s in json.load(open(sys.argv[1]))["scenarios"] if s["outcome"] == "PASS"][0]
kinds = [(e["kind"], e.get("state")) for e in s["events"]]
sys.exit(0 if kinds.index(("deploy", "done")) < kinds.index(("power", "on")) else 1)
PY
check "fails once: the reports are whole" whole "$WORK/once" 2

# 2. false: every case ERROR, the run goes on
lab_with_deploy "$WORK/false.lua" '{ cmd = { "false" } }'
run false "$WORK/false.lua" $A $B
rc=$?
check "false: both cases ERROR, rc 1 ($(outcome "$WORK/false" '*'); rc $rc)" \
  [ "$(outcome "$WORK/false" '*')" = "ERROR ERROR" -a "$rc" -eq 1 ]
check "false: the one-line message, twice" [ "$(grep -cE "^        $WORK/false.lua:[0-9]+: device 'emu-qcloud': deploy exited 1 after [0-9.]+ s \(see the case log\)$" "$WORK/false.txt")" -eq 2 ]
check "false: the reports are whole" whole "$WORK/false" 2
check "false: the device was never started" bash -c "! grep -q 'state=on' '$WORK/false/logs/'*/*.log"

# 3. sleep 60 with timeout = 1: killed, ERROR, and the next case the same
lab_with_deploy "$WORK/sleep.lua" "{ cmd = { \"sleep\", \"60.$TAG\" }, timeout = 1 }"
t0=$SECONDS
run sleep "$WORK/sleep.lua" $A $B
rc=$?
took=$((SECONDS - t0))
check "sleep 60, timeout 1: both cases ERROR, rc 1 ($(outcome "$WORK/sleep" '*'); rc $rc)" \
  [ "$(outcome "$WORK/sleep" '*')" = "ERROR ERROR" -a "$rc" -eq 1 ]
check "sleep 60, timeout 1: the run took seconds, not minutes ($took s)" [ "$took" -lt $((15 * M)) ]
check "sleep 60, timeout 1: the one-line message, twice" [ "$(grep -cE "^        $WORK/sleep.lua:[0-9]+: device 'emu-qcloud': deploy did not finish within 1 s \(killed\) \(see the case log\)$" "$WORK/sleep.txt")" -eq 2 ]
check "sleep 60, timeout 1: each ERROR came after ~1 s" python3 - "$WORK/sleep/report.json" <<'PY'
import json, sys
d = [s["duration"] for s in json.load(open(sys.argv[1]))["scenarios"]]
sys.exit(0 if len(d) == 2 and all(0.9 < x < 6 for x in d) else 1)
PY
check "sleep 60, timeout 1: the reports are whole" whole "$WORK/sleep" 2
check "sleep 60, timeout 1: no sleep is left ($(sleeps))" [ "$(sleeps)" -eq 0 ]

# 4. Ctrl-C while the deploy runs
lab_with_deploy "$WORK/int.lua" "{ cmd = { \"/bin/sh\", \"-c\", \"echo flashing; exec sleep 61.$TAG\" }, timeout = 120 }"
timeout 120 "$OTAHIL" run $A $B --lab "$WORK/int.lua" --report "$WORK/int" --filter '*@emu-qcloud' \
  --timeout-multiplier "$M" > "$WORK/int.txt" 2>&1 &
RUN_PID=$!
wait_sleep() { for _ in $(seq 200); do [ "$(sleeps)" -gt 0 ] && return 0; sleep 0.05; done; return 1; }
check "Ctrl-C: the deploy is running" wait_sleep
t0=$SECONDS
kill -INT "$RUN_PID"
wait "$RUN_PID"
rc=$?
RUN_PID=
check "Ctrl-C: otahil ended within seconds, rc 1 ($((SECONDS - t0)) s, rc $rc)" [ $((SECONDS - t0)) -lt $((10 * M)) -a "$rc" -eq 1 ]
check "Ctrl-C: the case is ERROR (interrupted), the next one SKIP ($(outcome "$WORK/int" '*'))" bash -c \
  "[ '$(outcome "$WORK/int" '*')' = 'ERROR SKIP' ] && grep -q 'interrupted (SIGINT)' '$WORK/int.txt'"
check "Ctrl-C: the deploy was killed and logged so" \
  grep -q 'deploy    device=emu-qcloud state=killed' "$WORK/int/logs/qcloud/01_version_after_boot@emu-qcloud.log"
check "Ctrl-C: the reports are whole" whole "$WORK/int" 2
check "Ctrl-C: no sleep is left ($(sleeps))" [ "$(sleeps)" -eq 0 ]

# 5. a base_image that is not there: exit 2 before anything runs, one line
sed 's|base_image = otadev_image { version = "1.0.0", size = 4096 }|base_image = "fw/base-1.0.0.bin"|' \
  "$WORK/false.lua" > "$WORK/nobase.lua"
timeout 60 "$OTAHIL" run $A --lab "$WORK/nobase.lua" --report "$WORK/nobase" > "$WORK/nobase.txt" 2>&1
rc=$?
check "missing base_image: exit 2 (got $rc)" [ "$rc" -eq 2 ]
check "missing base_image: one line with the lab file, line, device and key" bash -c \
  "[ \$(wc -l < '$WORK/nobase.txt') -eq 1 ] &&
   grep -qE \"^otahil: $WORK/nobase.lua:[0-9]+: device 'emu-qcloud': base_image: file '$WORK/fw/base-1.0.0.bin' does not exist$\" '$WORK/nobase.txt'"

# 6. exits 0 but leaves `sleep` running in its session (a gdbserver holding the probe)
# (and lists the sockets it got besides its stdout and stderr: none of otahil's)
cat > "$WORK/left.sh" <<EOF
sleep 777.$TAG &
out=\$(readlink /proc/\$\$/fd/1) err=\$(readlink /proc/\$\$/fd/2)
for f in /proc/\$\$/fd/*; do
  l=\$(readlink "\$f")
  case "\$l" in socket:*) [ "\$l" = "\$out" ] || [ "\$l" = "\$err" ] || echo "fd \${f##*/} \$l" ;; esac
done > "$WORK/left-fds"
echo flashed
EOF
lab_with_deploy "$WORK/left.lua" "{ cmd = { \"/bin/sh\", \"$WORK/left.sh\" }, timeout = 20 }"
run left "$WORK/left.lua" $A
rc=$?
check "left behind: the case passes (rc $rc, $(outcome "$WORK/left" '*'))" [ "$rc" -eq 0 -a "$(outcome "$WORK/left" '*')" = PASS ]
check "left behind: no sleep of the deploy runs after the case ($(sleeps))" [ "$(sleeps)" -eq 0 ]
check "left behind: the case log says it was killed" grep -q \
  'deploy.out device=emu-qcloud stream=both line=(the command exited, but processes it started still ran: killed its process group' \
  "$WORK/left/logs/qcloud/01_version_after_boot@emu-qcloud.log"
check "left behind: the deploy got none of otahil's sockets ($(tr '\n' ' ' < "$WORK/left-fds"))" \
  [ -e "$WORK/left-fds" -a ! -s "$WORK/left-fds" ]
# the old code's leftovers
ps -eo pid=,args= | awk -v t="$TAG" '$2 == "sleep" && index($3, t) { print $1 }' | xargs -r kill -KILL 2>/dev/null

finish
