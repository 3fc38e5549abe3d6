#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions run via until_ok/trap
# Smoke test of tests/devices/quecthing_device.py against real parts: a
# mosquitto broker on a free 127.0.0.1 port, tests/common/range_server.py for
# the firmware, mosquitto_pub/mosquitto_sub playing the QuecThing cloud, and
# tests/devices/line_relay.py (two ptys from pty.openpty, relayed with faults)
# as the module-MCU serial line. Every wait has a deadline; the trap kills and
# reaps everything we started. Exit 0 = passed. PQDEV_TEST_KEEP=1 keeps the
# work directory (logs, flash) for a look.
#
# Device 1 (--retry self --progress every --request on-connect):
#   boot reports (version, setMcuVer, otaRequest, one MCU boot line); plans
#   refused for battery / signal / disk / differential source; a user-confirmed
#   plan waits, is declined, then confirmed (and fails -4 on a wrong MD5); a
#   differential FOTA over a cut connection resumed with Range by itself;
#   404 -> -2, 403 -> -3; an image that fails to boot -> -5 after the reboot,
#   old version; a power cut mid-download (the MCU dies with the module) ->
#   -5 interrupted after power-on, then resumed with Range; SOTA: four steps,
#   setMcuVer, the MCU's boot line with the image's CRC-32, over a clean and a
#   corrupting line; CRC-32 -> -6, SHA-256 -> -7; a dead line -> -8; garbage.
# Device 2 (--retry wait --progress rate:300 --request never): no otaRequest;
#   a cut download -> -1, breakpoint kept; the plan pushed again -> resumed
#   with Range; percent reports within a step at least 300 ms apart; a
#   breakpoint of other firmware is not resumed from.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEV="$HERE/quecthing_device.py"
RELAY="$HERE/line_relay.py"
SRV="$HERE/../common/range_server.py"
PK=PQ1
DN=dev1

PY=
for cand in /usr/bin/python3 python3; do
  if "$cand" -c 'import paho.mqtt.client' 2>/dev/null; then PY=$cand; break; fi
done
[ -n "$PY" ] || { echo "FAIL: no python3 with paho-mqtt (apt python3-paho-mqtt)"; exit 1; }
for tool in mosquitto mosquitto_pub mosquitto_sub; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
    { echo "FAIL: $tool not found"; exit 1; }
done
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pqdev-test.XXXXXX")
PIDS=()
DEV_PID=
cleanup() {
  local rc=$?
  trap '' PIPE
  [ -n "$DEV_PID" ] && PIDS+=("$DEV_PID")
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  # the MCU dies with its module (parent-death signal); make sure of it
  for p in $(pgrep -f "[q]uecthing_device.py mcu --tty .* --state $WORK/" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  if [ "$rc" -ne 0 ]; then
    echo "---- device console (last 50 lines)"; tail -n 50 "$WORK/dev.log" 2>/dev/null
    echo "---- http log (last 20)"; tail -n 20 "$WORK/http.log" 2>/dev/null
    echo "---- messages (last 40)"; msgs | tail -n 40
  fi
  if [ -n "${PQDEV_TEST_KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }
. "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh" # free_port
until_ok() { # until_ok SECONDS CMD...
  local deadline=$((SECONDS + $1)); shift
  while ! "$@" 2>/dev/null; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.1
  done
}

# The device's messages (qth/PK/DN/up), numbered, one normalized line each:
#   N version COMP V | N setMcuVer COMP V | N otaRequest
#   N otaAction PLAN ACTION | N otaStep PLAN STEP [PERCENT]
#   N fotaResult|sotaResult PLAN CODE V | N bad PAYLOAD
msgs() {
  "$PY" - "$WORK/sub.log" "qth/$PK/$DN/up" <<'EOF'
import json, sys
n = 0
try:
    lines = open(sys.argv[1], encoding="utf-8", errors="replace").read().splitlines()
except OSError:
    lines = []
for line in lines:
    parts = line.split(" ", 2)
    if len(parts) < 3 or parts[1] != sys.argv[2]:
        continue
    n += 1
    try:
        m = json.loads(parts[2])
        e = m["event"]
        if e in ("version", "setMcuVer"):
            out = [e, m["comp_no"], m["version"]]
        elif e == "otaRequest":
            out = [e]
        elif e == "otaAction":
            out = [e, m["plan_id"], m["action"]]
        elif e == "otaStep":
            out = [e, m["plan_id"], m["step"]] + ([m["percent"]] if "percent" in m else [])
        elif e in ("fotaResult", "sotaResult"):
            out = [e, m["plan_id"], m["result"], m["version"]]
        else:
            out = ["bad", parts[2]]
    except (ValueError, KeyError, TypeError):
        out = ["bad", parts[2]]
    print(n, *out)
EOF
}
last_no() { msgs | tail -n 1 | awk '{print $1+0}'; }
since() { msgs | awk -v n="$1" '$1 > n' | cut -d' ' -f2-; }
has() { since "$1" | grep -Eq "$2"; }            # has N REGEX
wait_msg() { # SECS N REGEX WHAT
  until_ok "$1" has "$2" "$3" || fail "no message matching '$3' after #$2 within $1 s ($4)"
}
# the JSON of the first message after #N matching REGEX on its normalized form
raw_since() {
  "$PY" - "$WORK/sub.log" "qth/$PK/$DN/up" "$1" "$2" <<'EOF'
import json, re, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    parts = line.rstrip("\n").split(" ", 2)
    if len(parts) < 3 or parts[1] != sys.argv[2]:
        continue
    n += 1
    if n > int(sys.argv[3]) and re.search(sys.argv[4], parts[2]):
        print(parts[2]); break
EOF
}

down() { mosquitto_pub -h 127.0.0.1 -p "$MPORT" -q 1 -t "qth/$PK/$DN/down" -m "$1" || fail "mosquitto_pub"; }
lab() { mosquitto_pub -h 127.0.0.1 -p "$MPORT" -q 1 -t "qth/$PK/$DN/lab" -m "$1" || fail "mosquitto_pub"; }
plan() { # PLAN COMP TYPE TARGET [EXTRA JSON FIELDS]
  down "{\"event\":\"otaPlan\",\"plan_id\":\"$1\",\"comp_no\":\"$2\",\"comp_type\":$3,\"target_version\":\"$4\",\"package\":\"full\",\"mode\":\"silent\",\"min_battery\":20,\"min_signal\":-110,\"disk_space\":65536${5:+,$5}}"
}
md5_of() { md5sum "$1" | cut -c1-32; }
sha_of() { sha256sum "$1" | cut -c1-64; }
crc_of() { "$PY" -c 'import sys,zlib; print(zlib.crc32(open(sys.argv[1],"rb").read()))' "$1"; }
crchex_of() { printf '%08x' "$(crc_of "$1")"; }
size_of() { stat -c %s "$1"; }
finfo() { # PLAN VERSION FILE URL [MD5]
  down "{\"event\":\"fotaInfo\",\"plan_id\":\"$1\",\"comp_no\":\"module\",\"version\":\"$2\",\"url\":\"$4\",\"md5\":\"${5:-$(md5_of "$3")}\",\"size\":$(size_of "$3")}"
}
sinfo() { # PLAN VERSION FILE URL [CRC32 [SHA256]]
  down "{\"event\":\"sotaInfo\",\"plan_id\":\"$1\",\"comp_no\":\"STM32\",\"version\":\"$2\",\"url\":\"$4\",\"md5\":\"$(md5_of "$3")\",\"crc32\":${5:-$(crc_of "$3")},\"sha256\":\"${6:-$(sha_of "$3")}\",\"size\":$(size_of "$3")}"
}
line_ctl() { echo "$1" > "$WORK/ctl.tmp" && mv "$WORK/ctl.tmp" "$WORK/ctl"; sleep 0.2; }
stat_of() { tr ' ' '\n' < "$WORK/stats" | sed -n "s/^$1=//p"; }
boot_lines() { grep -c "boot version=$1 crc32=$2\$" "$WORK/dev.log"; }

start_device() { # extra args...
  "$PY" "$DEV" run --host 127.0.0.1 --port "$MPORT" --product "$PK" --device "$DN" \
    --state "$WORK/flash$DEVNO" --version 1.0.0 --boot-ms 50 --burn-ms 100 \
    --download-timeout 2 --mcu STM32 --mcu-version 1.0.0 \
    --mcu-tty "$TTY_A" --mcu-peer-tty "$TTY_B" --mcu-timeout 2 "$@" >>"$WORK/dev.log" 2>&1 &
  DEV_PID=$!
}
kill_device() { kill -KILL "$DEV_PID" 2>/dev/null; wait "$DEV_PID" 2>/dev/null; DEV_PID=; }
mcu_alive() { pgrep -f "[q]uecthing_device.py mcu --tty .* --state $WORK/" >/dev/null; }

# ------------------------------------------------------------------ the parts
MPORT=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$MPORT" >"$WORK/mosquitto.conf"
"$MOSQUITTO" -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
PIDS+=($!)
until_ok 5 mosquitto_pub -h 127.0.0.1 -p "$MPORT" -t probe -m x || fail "mosquitto did not come up"

mkdir "$WORK/fw"
"$PY" "$SRV" --dir "$WORK/fw" --port-file "$WORK/hport" >"$WORK/http.log" 2>&1 &
PIDS+=($!)
until_ok 5 test -s "$WORK/hport" || fail "range_server did not start"
URL="http://127.0.0.1:$(cat "$WORK/hport")"

"$PY" "$RELAY" --paths-file "$WORK/paths" --ctl "$WORK/ctl" --stats "$WORK/stats" >"$WORK/relay.log" 2>&1 &
PIDS+=($!)
until_ok 5 test -s "$WORK/paths" || fail "line_relay did not start"
read -r TTY_A TTY_B < "$WORK/paths"

mosquitto_sub -h 127.0.0.1 -p "$MPORT" -q 1 -F '%U %t %p' -t 'qth/#' >"$WORK/sub.log" 2>&1 &
PIDS+=($!)
probe_seen() { mosquitto_pub -h 127.0.0.1 -p "$MPORT" -t qth/probe -m p; grep -q ' qth/probe ' "$WORK/sub.log"; }
until_ok 5 probe_seen || fail "mosquitto_sub is not receiving"

mk() { "$PY" "$DEV" mkimage "$@" >/dev/null || fail "mkimage $*"; }
mk --version 2.0.0 --size 262144 -o "$WORK/fw/m2.bin"
mk --version 3.0.0 --size 400000 -o "$WORK/fw/m3.bin"
mk --version 2.9.0 --size 131072 --fail-boot -o "$WORK/fw/m29.bin"
mk --version 2.1.0 --size 65536 -o "$WORK/fw/u21.bin"
mk --version 2.2.0 --size 50000 -o "$WORK/fw/u22.bin"
mk --version 2.3.0 --size 40000 -o "$WORK/fw/u23.bin"
[ "$(size_of "$WORK/fw/m2.bin")" = 262144 ] || fail "mkimage size is not exact"
"$PY" "$DEV" mkimage --version 9 --size 20 -o "$WORK/fw/tiny.bin" >/dev/null 2>&1 &&
  fail "mkimage accepted a size smaller than the header"
ok "mkimage: exact sizes, too small refused"

# ================================================================== device 1
DEVNO=1
start_device --retry self --progress every --request on-connect
wait_msg 8 0 '^version module 1\.0\.0$' "boot"
wait_msg 3 0 '^setMcuVer STM32 1\.0\.0$' "setMcuVer at boot"
wait_msg 3 0 '^otaRequest$' "otaRequest on connect"
until_ok 3 test "$(grep -c 'boot version=' "$WORK/dev.log")" = 1 || fail "not exactly one MCU boot line"
grep -Eq '^\[pymcu\] boot version=1\.0\.0 crc32=[0-9a-f]{8}$' "$WORK/dev.log" || fail "MCU boot line form"
ok "boot: version 1.0.0, setMcuVer STM32 1.0.0, otaRequest, one MCU boot line"

# ------------------------------------------------------------------ policy refusals
n=$(last_no)
lab '{"battery":10}'
until_ok 3 grep -q 'sensors: battery=10' "$WORK/dev.log" || fail "lab battery not taken"
plan p-bat module 0 2.0.0
wait_msg 3 "$n" '^otaAction p-bat 0$' "low battery refused"
raw_since "$n" '"p-bat"' | grep -q 'battery' || fail "no battery reason"
lab '{"battery":90,"signal":-95,"disk":100000}'
until_ok 3 grep -q 'sensors: battery=90' "$WORK/dev.log" || fail "lab values not taken"
plan p-sig module 0 2.0.0 '"min_signal":-90'
wait_msg 3 "$n" '^otaAction p-sig 0$' "weak signal refused"
plan p-disk module 0 2.0.0 '"disk_space":262144,"min_signal":-100'
wait_msg 3 "$n" '^otaAction p-disk 0$' "small disk refused"
lab '{"signal":-70,"disk":8000000}'
until_ok 3 grep -q 'sensors: signal=-70, disk=8000000' "$WORK/dev.log" || fail "lab values not taken"
plan p-diff module 0 2.0.0 '"package":"diff","source_version":"0.9.0"'
wait_msg 3 "$n" '^otaAction p-diff 0$' "differential package for another source refused"
plan p-mcu OTHER 1 2.0.0
wait_msg 3 "$n" '^otaAction p-mcu 0$' "unknown MCU component refused"
has "$n" 'otaStep' && fail "a refused plan got steps"
ok "refused with a reason: battery, signal, disk, diff source, unknown MCU"

# ------------------------------------------------------------------ user confirmation, MD5
n=$(last_no)
plan p-conf module 0 2.0.0 '"mode":"confirm"'
sleep 1
has "$n" 'p-conf' && fail "answered a user-confirmed plan before the user did"
down '{"event":"userConfirm","plan_id":"p-conf","confirm":0}'
wait_msg 3 "$n" '^otaAction p-conf 0$' "declined by the user"
plan p-conf2 module 0 2.0.0 '"mode":"confirm"'
sleep 0.5
has "$n" 'p-conf2' && fail "answered p-conf2 before the user confirmed"
down '{"event":"userConfirm","plan_id":"p-conf2","confirm":1}'
wait_msg 3 "$n" '^otaAction p-conf2 1$' "accepted after the user confirmed"
wait_msg 3 "$n" '^otaStep p-conf2 received$' "received step"
finfo p-conf2 2.0.0 "$WORK/fw/m2.bin" "$URL/fw/m2.bin" 0123456789abcdef0123456789abcdef
wait_msg 5 "$n" '^fotaResult p-conf2 -4 1\.0\.0$' "wrong MD5"
has "$n" 'otaStep p-conf2 updating' && fail "burnt despite a wrong MD5"
ok "user-confirmed plan: waits, declined -> 0, confirmed -> 1; wrong MD5 -> -4, no burn"

# ------------------------------------------------------------------ FOTA, cut and resumed by itself
n=$(last_no)
plan p-f1 module 0 2.0.0 '"package":"diff","source_version":"1.0.0"'
wait_msg 3 "$n" '^otaAction p-f1 1$' "diff plan for 1.0.0 accepted"
finfo p-f1 2.0.0 "$WORK/fw/m2.bin" "$URL/cut/100000/m2.bin"
wait_msg 10 "$n" '^fotaResult p-f1 0 2\.0\.0$' "FOTA over a cut connection"
r=$(msgs | awk '$2=="fotaResult" && $3=="p-f1" {print $1}' | tail -n 1)
wait_msg 3 "$r" '^otaRequest$' "otaRequest after the reboot"
grep -q '^REQ /cut/100000/m2.bin range=bytes=100000- status=206' "$WORK/http.log" ||
  fail "no retry with Range: bytes=100000-"
seq=$(since "$n" | grep -v '^otaStep p-f1 downloading' | tr '\n' ';')
want="otaAction p-f1 1;otaStep p-f1 received;otaStep p-f1 updating;version module 2.0.0;setMcuVer STM32 1.0.0;otaStep p-f1 done;fotaResult p-f1 0 2.0.0;otaRequest;"
[ "$seq" = "$want" ] || fail "FOTA messages: got '$seq' want '$want'"
since "$n" | awk '$1=="otaStep" && $3=="downloading" {print $4}' | "$PY" -c '
import sys; v=[int(x) for x in sys.stdin.read().split()]
sys.exit(0 if v and v[0]==0 and v[-1]==100 and all(a<b for a,b in zip(v,v[1:])) else 1)' ||
  fail "downloading percents are not 0..100 increasing"
ok "FOTA 1.0.0 -> 2.0.0 (diff): cut at 100000, resumed with Range; result after the reboot"

# ------------------------------------------------------------------ 404, 403
n=$(last_no)
plan p-404 module 0 3.0.0
wait_msg 3 "$n" '^otaAction p-404 1$' "p-404 accepted"
finfo p-404 3.0.0 "$WORK/fw/m3.bin" "$URL/status/404/m3.bin"
wait_msg 5 "$n" '^fotaResult p-404 -2 2\.0\.0$' "404"
plan p-403 module 0 3.0.0
wait_msg 3 "$n" '^otaAction p-403 1$' "p-403 accepted"
finfo p-403 3.0.0 "$WORK/fw/m3.bin" "$URL/status/403/m3.bin"
wait_msg 5 "$n" '^fotaResult p-403 -3 2\.0\.0$' "403"
ok "404 -> -2, 403 -> -3"

# ------------------------------------------------------------------ rollback
n=$(last_no)
plan p-rb module 0 2.9.0
wait_msg 3 "$n" '^otaAction p-rb 1$' "p-rb accepted"
finfo p-rb 2.9.0 "$WORK/fw/m29.bin" "$URL/fw/m29.bin"
wait_msg 10 "$n" '^fotaResult p-rb -5 2\.0\.0$' "rollback reported after the reboot"
has "$n" '^version module 2\.9\.0' && fail "reported 2.9.0, which never ran"
has "$n" '^otaStep p-rb done' && fail "step done for an image that did not boot"
raw_since "$n" '"fotaResult"' | grep -q 'rolled back' || fail "no reason for the rollback"
ok "image that fails to boot: rolled back, -5 with a reason after the reboot, still 2.0.0"

# ------------------------------------------------------------------ power cut mid-download
n=$(last_no)
plan p-pc module 0 3.0.0
wait_msg 3 "$n" '^otaAction p-pc 1$' "p-pc accepted"
finfo p-pc 3.0.0 "$WORK/fw/m3.bin" "$URL/slow/m3.bin"
wait_msg 10 "$n" '^otaStep p-pc downloading (3[0-9]|[4-9][0-9])$' "slow download at >= 30 %"
mcu_alive || fail "no MCU process before the power cut"
kill_device
mcu_gone() { ! mcu_alive; }
until_ok 3 mcu_gone ||
  fail "the MCU outlived its module's power cut"
ok "power cut at >= 30 %: the MCU died with the module"
n=$(last_no)
start_device --retry self --progress every --request on-connect
wait_msg 8 "$n" '^fotaResult p-pc -5 2\.0\.0$' "interrupted update reported -5 after power-on"
wait_msg 3 "$n" '^otaRequest$' "otaRequest after power-on"
plan p-pc module 0 3.0.0
wait_msg 3 "$n" '^otaAction p-pc 1$' "p-pc accepted again"
finfo p-pc 3.0.0 "$WORK/fw/m3.bin" "$URL/fw/m3.bin"
wait_msg 10 "$n" '^fotaResult p-pc 0 3\.0\.0$' "resumed after the power cut"
off=$(grep -E '^REQ /fw/m3\.bin range=bytes=[0-9]+- ' "$WORK/http.log" | tail -n 1 | sed -E 's/.*bytes=([0-9]+)-.*/\1/')
if [ -z "$off" ] || [ "$off" -lt 120000 ]; then fail "resumed at '${off:-none}', want >= 120000 (30 %)"; fi
since "$n" | awk '$1=="otaStep" && $2=="p-pc" && $3=="downloading" {print $4}' | head -n 1 |
  grep -qx '[3-9][0-9]' || fail "the resumed download went back below 30 %"
ok "after power-on: -5 interrupted; pushed again: Range bytes=$off-, 3.0.0"

# ------------------------------------------------------------------ SOTA
n=$(last_no)
plan s1 STM32 1 2.1.0
wait_msg 3 "$n" '^otaAction s1 1$' "SOTA plan accepted"
sinfo s1 2.1.0 "$WORK/fw/u21.bin" "$URL/fw/u21.bin"
wait_msg 10 "$n" '^sotaResult s1 0 2\.1\.0$' "SOTA"
seq=$(since "$n" | grep -Ev '^otaStep s1 (downloading|transferring) ' | tr '\n' ';')
want="otaAction s1 1;otaStep s1 received;otaStep s1 done;setMcuVer STM32 2.1.0;sotaResult s1 0 2.1.0;"
[ "$seq" = "$want" ] || fail "SOTA messages: got '$seq' want '$want'"
has "$n" '^otaStep s1 transferring 100$' || fail "no transferring 100"
[ "$(boot_lines 2.1.0 "$(crchex_of "$WORK/fw/u21.bin")")" = 1 ] || fail "no MCU boot line with the image's CRC-32"
ok "SOTA: received, downloading, transferring, done; setMcuVer 2.1.0; MCU boots crc32 $(crchex_of "$WORK/fw/u21.bin")"

n=$(last_no)
line_ctl "corrupt-every 300"
plan s2 STM32 1 2.2.0
wait_msg 3 "$n" '^otaAction s2 1$' "s2 accepted"
sinfo s2 2.2.0 "$WORK/fw/u22.bin" "$URL/fw/u22.bin"
wait_msg 15 "$n" '^sotaResult s2 0 2\.2\.0$' "SOTA over a corrupting line"
[ "$(stat_of corrupted)" -gt 10 ] || fail "the relay corrupted only $(stat_of corrupted) bytes"
line_ctl clear
[ "$(boot_lines 2.2.0 "$(crchex_of "$WORK/fw/u22.bin")")" = 1 ] || fail "the MCU does not run the exact image"
ok "SOTA over a line corrupting 1 byte in 300 ($(stat_of corrupted) bytes): exact image"

n=$(last_no)
plan s3 STM32 1 2.3.0
wait_msg 3 "$n" '^otaAction s3 1$' "s3 accepted"
sinfo s3 2.3.0 "$WORK/fw/u23.bin" "$URL/fw/u23.bin" 12345
wait_msg 5 "$n" '^sotaResult s3 -6 2\.2\.0$' "CRC-32 mismatch"
plan s4 STM32 1 2.3.0
wait_msg 3 "$n" '^otaAction s4 1$' "s4 accepted"
sinfo s4 2.3.0 "$WORK/fw/u23.bin" "$URL/fw/u23.bin" "" "$(printf '0%.0s' $(seq 64))"
wait_msg 5 "$n" '^sotaResult s4 -7 2\.2\.0$' "SHA-256 mismatch"
has "$n" 'transferring' && fail "transferred an image that failed its checks"
ok "SOTA checks: CRC-32 -> -6, SHA-256 -> -7, nothing sent to the MCU"

n=$(last_no)
line_ctl drop-all
plan s5 STM32 1 2.3.0
wait_msg 3 "$n" '^otaAction s5 1$' "s5 accepted"
sinfo s5 2.3.0 "$WORK/fw/u23.bin" "$URL/fw/u23.bin"
wait_msg 8 "$n" '^sotaResult s5 -8 2\.2\.0$' "dead line"
has "$n" '^otaStep s5 transferring 0$' || fail "no transferring step before -8"
line_ctl clear
has "$n" 'setMcuVer' && fail "setMcuVer after a failed transfer"
grep -q 'boot version=2\.3\.0' "$WORK/dev.log" && fail "the MCU booted 2.3.0"
ok "dead line: transferring, then -8; MCU still 2.2.0"

# ------------------------------------------------------------------ garbage
n=$(last_no)
for junk in 'not json' '[1,2]' '{"event":"otaPlan"}' '{"event":"otaPlan","plan_id":true}' \
    '{"event":"fotaInfo","plan_id":"nope","url":"http://x/","md5":"00","size":1}' \
    '{"event":"userConfirm","plan_id":"nope","confirm":1}' '{"event":"what"}' \
    '{"event":"otaPlan","plan_id":"g","comp_no":"module","target_version":"4","min_battery":"lots"}'; do
  down "$junk"
done
head -c 100000 /dev/zero | tr '\0' 'A' >"$WORK/huge.txt"
mosquitto_pub -h 127.0.0.1 -p "$MPORT" -q 1 -t "qth/$PK/$DN/down" -f "$WORK/huge.txt" || fail "mosquitto_pub"
lab 'garbage'
nine_ignored() { [ "$(grep -c 'ota: ignored' "$WORK/dev.log")" -ge 9 ]; }
until_ok 5 nine_ignored || fail "garbage was not ignored with a console line each"
kill -0 "$DEV_PID" 2>/dev/null || fail "the device died on garbage"
[ -z "$(since "$n")" ] || fail "garbage caused messages: $(since "$n" | tr '\n' ';')"
msgs | grep -q ' bad ' && fail "a malformed message was published"
ok "garbage ignored (a console line each, no message, alive)"
kill_device

# ================================================================== device 2
DEVNO=2
n=$(last_no)
start_device --retry wait --progress rate:300 --request never
wait_msg 8 "$n" '^version module 1\.0\.0$' "device 2 boot"
sleep 1.5
has "$n" '^otaRequest' && fail "--request never sent otaRequest"
ok "--request never: version and setMcuVer, no otaRequest"
plan w1 module 0 2.0.0
wait_msg 3 "$n" '^otaAction w1 1$' "w1 accepted"
finfo w1 2.0.0 "$WORK/fw/m2.bin" "$URL/cut/100000/m2.bin?w1"
wait_msg 5 "$n" '^fotaResult w1 -1 1\.0\.0$' "--retry wait: -1 after the cut"
grep -q '^REQ /cut/100000/m2.bin?w1 range=bytes=' "$WORK/http.log" && fail "--retry wait retried by itself"
plan w1 module 0 2.0.0
wait_msg 3 "$n" 'otaAction w1 1$' "w1 accepted again"
finfo w1 2.0.0 "$WORK/fw/m2.bin" "$URL/slow/m2.bin?w1b"
wait_msg 12 "$n" '^fotaResult w1 0 2\.0\.0$' "resumed when pushed again"
grep -q '^REQ /slow/m2.bin?w1b range=bytes=100000- status=206' "$WORK/http.log" ||
  fail "the second push did not resume with Range: bytes=100000-"
"$PY" - "$WORK/sub.log" "qth/$PK/$DN/up" <<'EOF' || fail "percent reports closer than 300 ms within a step"
import json, sys
last = {}
bad = []
for line in open(sys.argv[1]):
    ts, topic, payload = line.rstrip("\n").split(" ", 2)
    if topic != sys.argv[2]:
        continue
    m = json.loads(payload)
    if m.get("plan_id") != "w1":
        continue
    if m.get("event") != "otaStep":
        last = {}  # a new attempt: its first report of a step is never held back
        continue
    if "percent" not in m:
        continue
    k = (m["step"],)
    t = float(ts)
    # (the subscriber's clock: the broker's delivery adds jitter, a loaded
    # machine holds one report back and delivers it close to the next; a
    # device without the limit sends its reports milliseconds apart)
    if k in last and t - last[k] < 0.15:
        bad.append((m["step"], m["percent"], round(t - last[k], 3)))
    last[k] = t
print("percent gaps under 300 ms:", bad) if bad else None
sys.exit(1 if bad else 0)
EOF
ok "--retry wait: -1, breakpoint kept, resumed with Range when pushed again; --progress rate:300 held"

n=$(last_no)
plan w2 module 0 3.0.0
wait_msg 3 "$n" '^otaAction w2 1$' "w2 accepted"
finfo w2 3.0.0 "$WORK/fw/m3.bin" "$URL/cut/150000/m3.bin?w2"
wait_msg 5 "$n" '^fotaResult w2 -1 2\.0\.0$' "w2 cut: -1, breakpoint of 3.0.0 kept"
plan w3 module 0 2.9.0
wait_msg 3 "$n" '^otaAction w3 1$' "w3 accepted"
finfo w3 2.9.0 "$WORK/fw/m29.bin" "$URL/fw/m29.bin?w3"
wait_msg 10 "$n" '^fotaResult w3 -5 2\.0\.0$' "w3 (fails to boot) rolled back"
grep -q '^REQ /fw/m29.bin?w3 range=- ' "$WORK/http.log" || fail "w3 resumed from the breakpoint of other firmware"
grep -q 'breakpoint of other firmware (module 3.0.0' "$WORK/dev.log" || fail "no console line for the dropped breakpoint"
ok "a breakpoint of other firmware (3.0.0) is dropped: 2.9.0 downloaded from 0"
kill_device

echo "PASS: quecthing_device smoke test"
exit 0
