#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions run via until_ok/trap
# Smoke test of tests/devices/aliyun_device.py against real parts: a mosquitto
# broker on a free 127.0.0.1 port, tests/common/range_server.py for HTTP,
# tests/common/aliyun_block_server.py for the MQTT block download, and
# mosquitto_pub/mosquitto_sub playing the Aliyun cloud. Every wait has a
# deadline; the trap kills and reaps everything we started. Exit 0 = passed.
# PYAY_TEST_KEEP=1 keeps the work directory (logs, flash) for a look.
#
# dev1 (aliyun, --retry self, --progress every): informs and firmware/get on
# connect; get_reply empty, unasked, and with a task; HTTP happy path (steps
# rising to 100, new version after the reboot); MQTT block download of module
# MCU with a dropped and a corrupted block (each asked again, in place, no
# reboot); wrong MD5 and SHA256 -> -3; unknown signMethod -> nothing fetched;
# power cut mid-download then resume with Range; a cut connection resumed by
# itself; 404 -> -2; refused at burn -> -4; fails to boot -> -1, rollback; a
# power cut while burning; a breakpoint of other firmware not used; garbage.
# dev2 (aliyun, --retry wait, --progress rate:300): a cut -> -2, the
# breakpoint kept, resumed when the task comes again; reports >= 300 ms apart.
# dev3 (haas): informs, no firmware/get, MQTT downloads refused, a file module.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEV="$HERE/aliyun_device.py"
SRV="$HERE/../common/range_server.py"
BLK="$HERE/../common/aliyun_block_server.py"
PK=PKAY1

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

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pyay-test.XXXXXX")
PIDS=()
declare -A DEVPID=()
cleanup() {
  local rc=$?
  trap '' PIPE
  for d in "${!DEVPID[@]}"; do PIDS+=("${DEVPID[$d]}"); done
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  if [ "$rc" -ne 0 ]; then
    for d in dev1 dev2 dev3; do
      [ -s "$WORK/$d.log" ] && { echo "---- $d console (last 30 lines)"; tail -n 30 "$WORK/$d.log"; }
    done
    echo "---- http log (last 20)"; tail -n 20 "$WORK/http.log" 2>/dev/null
    echo "---- block log (last 20)"; tail -n 20 "$WORK/blocks.log" 2>/dev/null
    echo "---- reports (last 40)"; reports | tail -n 40
  fi
  if [ -n "${PYAY_TEST_KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# until_ok SECONDS CMD...: runs CMD every 0.1 s until it succeeds or time is up.
until_ok() {
  local deadline=$((SECONDS + $1)); shift
  while ! "$@" 2>/dev/null; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.1
  done
}

# What the devices sent, one normalized line each, numbered:
#   N TIME DN inform MODULE VERSION | step MODULE STEP | get MODULE ID | block OFFSET SIZE
#   N TIME DN bad <payload>          (never: a malformed message)
cat >"$WORK/reports.py" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    ts, _, rest = line.rstrip("\n").partition(" ")
    topic, _, payload = rest.partition(" ")
    t = topic.split("/")
    if len(t) < 5 or t[0] != "":
        continue
    n += 1
    try:
        m = json.loads(payload)
        p = m["params"]
        if t[1] == "ota":
            dn, kind = t[5], t[3]
            if kind == "inform":
                out = "inform %s %s" % (p.get("module", "default"), p["version"])
            elif kind == "progress":
                int(p["step"]); str(p["desc"])
                out = "step %s %s" % (p.get("module", "default"), p["step"])
            else:
                out = "bad " + payload
        elif t[-1] == "get":
            dn, out = t[3], "get %s %s" % (p.get("module", "default"), m["id"])
        elif t[-1] == "download":
            dn, out = t[3], "block %d %d" % (p["fileBlock"]["offset"], p["fileBlock"]["size"])
        else:
            dn, out = t[3] if len(t) > 3 else "?", "bad " + payload
        if not isinstance(m.get("id"), str) or not m["id"].isdigit():
            out = "bad id " + payload
    except (ValueError, KeyError, TypeError, IndexError):
        dn, out = "?", "bad " + payload
    print(n, ts, dn, out)
EOF
reports() { "$PY" "$WORK/reports.py" "$WORK/sub.log"; }
# since N DN: DN's reports after number N, as "KIND FIELDS..."
since() { reports | awk -v n="$1" -v d="$2" '$1 > n && $3 == d' | cut -d' ' -f4-; }
last_no() { reports | tail -n 1 | awk '{print $1+0}'; }
has_since() { since "$1" "$2" | grep -Eq "$3"; }
wait_report() { # SECS N DN REGEX WHAT
  until_ok "$1" has_since "$2" "$3" "$4" || fail "$3: no report matching '$4' after #$2 within $1 s ($5)"
}
in_log() { grep -Eq "$2" "$WORK/$1.log"; }
wait_log() { # SECS FILE REGEX WHAT
  until_ok "$1" in_log "$2" "$3" || fail "no line matching '$3' in $2.log within $1 s ($4)"
}

start_device() { # DN EXTRA-ARGS...
  local dn=$1; shift
  "$PY" "$DEV" run --host 127.0.0.1 --port "$MPORT" --product "$PK" --device "$dn" \
    --state "$WORK/$dn.flash" --version 1.0.0 --boot-ms 50 --burn-ms "${BURN_MS:-100}" \
    --download-timeout 2 --block-size 16384 --block-timeout-ms 700 "$@" >>"$WORK/$dn.log" 2>&1 &
  DEVPID[$dn]=$!
}
kill_device() { # DN: a power cut
  kill -KILL "${DEVPID[$1]}" 2>/dev/null; wait "${DEVPID[$1]}" 2>/dev/null; unset "DEVPID[$1]"
}
alive() { kill -0 "${DEVPID[$1]}" 2>/dev/null; }
pub() { # TOPIC PAYLOAD
  mosquitto_pub -h 127.0.0.1 -p "$MPORT" -q 1 -t "$1" -m "$2" || fail "mosquitto_pub $1"
}
md5_of() { md5sum "$1" | cut -d' ' -f1; }
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
size_of() { stat -c %s "$1"; }
# push DN VERSION FILE URL-PATH [MODULE [METHOD [SIGN]]]: an HTTP upgrade
push() {
  local dn=$1 v=$2 f=$3 path=$4 mod=${5:-} method=${6:-MD5} sign=${7:-} modj=""
  [ -n "$mod" ] && modj=",\"module\":\"$mod\""
  if [ "$method" = SHA256 ]; then
    sign=${sign:-$(sha_of "$f")}
    pub "/ota/device/upgrade/$PK/$dn" "{\"code\":\"1000\",\"id\":\"1\",\"message\":\"success\",\"data\":{\"size\":$(size_of "$f"),\"version\":\"$v\",\"signMethod\":\"SHA256\",\"sign\":\"$sign\",\"url\":\"$URL$path\"$modj}}"
  else
    sign=${sign:-$(md5_of "$f")}
    pub "/ota/device/upgrade/$PK/$dn" "{\"code\":\"1000\",\"id\":\"1\",\"message\":\"success\",\"data\":{\"size\":$(size_of "$f"),\"version\":\"$v\",\"signMethod\":\"$method\",\"sign\":\"$sign\",\"md5\":\"$sign\",\"url\":\"$URL$path\"$modj}}"
  fi
}
get_id() { # N DN MODULE: the id of DN's last firmware/get for MODULE after #N
  since "$1" "$2" | awk -v m="$3" '$1 == "get" && $2 == m {id=$3} END {print id}'
}
steps_rise() { # N DN MODULE: the steps after #N rise strictly, none negative
  since "$1" "$2" | awk -v m="$3" '$1 == "step" && $2 == m {
    if ($3 + 0 < 1 || $3 + 0 <= last) bad = 1; last = $3 + 0 } END {exit bad || !last}'
}

# ------------------------------------------------------------------ the cloud
MPORT=$(free_port)
cat >"$WORK/mosquitto.conf" <<EOF
listener $MPORT 127.0.0.1
allow_anonymous true
persistence false
EOF
"$MOSQUITTO" -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
PIDS+=($!)
until_ok 5 mosquitto_pub -h 127.0.0.1 -p "$MPORT" -t probe -m x ||
  fail "mosquitto did not come up on port $MPORT"

mkdir "$WORK/fw" "$WORK/blocks"
"$PY" "$SRV" --dir "$WORK/fw" --port-file "$WORK/hport" >"$WORK/http.log" 2>&1 &
PIDS+=($!)
until_ok 5 test -s "$WORK/hport" || fail "range_server did not start"
URL="http://127.0.0.1:$(cat "$WORK/hport")"

mosquitto_sub -h 127.0.0.1 -p "$MPORT" -q 1 -F '%U %t %p' -t '/ota/device/inform/#' \
  -t '/ota/device/progress/#' -t '/sys/+/+/thing/ota/firmware/get' \
  -t '/sys/+/+/thing/file/download' >"$WORK/sub.log" 2>&1 &
PIDS+=($!)
probe_seen() {
  mosquitto_pub -h 127.0.0.1 -p "$MPORT" -t "/ota/device/inform/$PK/probe" -m '{"id":"1","params":{"version":"0"}}'
  grep -q "/ota/device/inform/$PK/probe" "$WORK/sub.log"
}
until_ok 5 probe_seen || fail "mosquitto_sub is not receiving"

"$PY" "$BLK" --port "$MPORT" --dir "$WORK/blocks" --log "$WORK/blocks.log" --ready "$WORK/blk.ready" \
  --drop 16384 --corrupt 32768 >"$WORK/blk.out" 2>&1 &
PIDS+=($!)
until_ok 5 test -s "$WORK/blk.ready" || fail "aliyun_block_server did not subscribe"

mk() { "$PY" "$DEV" mkimage "$@" >/dev/null || fail "mkimage $*"; }
mk --version 2.0.0 --size 150000 -o "$WORK/fw/v2.bin"
mk --version 3.0.0 --size 120000 -o "$WORK/fw/v3.bin"
mk --version 1.1.0 --size 65536 -o "$WORK/blocks/stream-7.bin"
mk --version 4.0.0 --size 400000 -o "$WORK/fw/v4.bin"
mk --version 5.0.0 --size 120000 -o "$WORK/fw/v5.bin"
mk --version 6.0.0 --size 50000 --fail-burn -o "$WORK/fw/v6burn.bin"
mk --version 6.1.0 --size 50000 --fail-boot -o "$WORK/fw/v61boot.bin"
mk --version 7.0.0 --size 300000 -o "$WORK/fw/v7.bin"
mk --version 8.0.0 --size 300000 -o "$WORK/fw/v8.bin"
mk --version 9.0.0 --size 200000 -o "$WORK/fw/v9.bin"
mk --version 1.1.0 --size 40000 -o "$WORK/fw/app.bin"
[ "$(size_of "$WORK/fw/v2.bin")" = 150000 ] || fail "mkimage size is not exact"
"$PY" "$DEV" mkimage --version 9 --size 10 -o "$WORK/fw/tiny.bin" >/dev/null 2>&1 &&
  fail "mkimage accepted a size smaller than the header"
ok "mkimage: exact sizes, refuses a size below its header"

# ------------------------------------------------------------------ dev1: boot
start_device dev1 --module MCU=1.0.0 --retry self --progress every
wait_report 8 0 dev1 '^get MCU [0-9]+$' "first connect"
has_since 0 dev1 '^inform default 1\.0\.0$' || fail "no inform of default 1.0.0"
has_since 0 dev1 '^inform MCU 1\.0\.0$' || fail "no inform of MCU 1.0.0"
has_since 0 dev1 '^get default [0-9]+$' || fail "no firmware/get for default"
ok "connect: informs default 1.0.0 and MCU 1.0.0, firmware/get for each"

# ------------------------------------------------------------------ get_reply
id=$(get_id 0 dev1 default)
pub "/sys/$PK/dev1/thing/ota/firmware/get_reply" "{\"id\":\"$id\",\"code\":200,\"data\":{}}"
wait_log 5 dev1 'get_reply: no upgrade for module default' "empty get_reply"
pub "/sys/$PK/dev1/thing/ota/firmware/get_reply" '{"id":"999","code":200,"data":{"size":5}}'
wait_log 5 dev1 'get_reply nobody asked for' "unasked get_reply"
ok "get_reply: empty data = nothing to do; a reply nobody asked for is ignored"

# ------------------------------------------------------------------ HTTP happy path
n=$(last_no)
push dev1 2.0.0 "$WORK/fw/v2.bin" /fw/v2.bin
wait_report 10 "$n" dev1 '^inform default 2\.0\.0$' "happy path"
steps_rise "$n" dev1 default || fail "steps do not rise strictly: $(since "$n" dev1 | tr '\n' ';')"
has_since "$n" dev1 '^step default 100$' || fail "no step 100 (every mode)"
[ "$(since "$n" dev1 | grep -c '^step ')" -ge 10 ] || fail "fewer than 10 reports in every mode"
has_since "$n" dev1 '^inform MCU 1\.0\.0$' || fail "MCU not informed after the reboot"
ok "HTTP: steps rise to 100, reboot, informs default 2.0.0"

# ------------------------------------------------------------------ MQTT blocks, module in place
n=$(last_no)
pub "/ota/device/upgrade/$PK/dev1" "{\"code\":\"1000\",\"id\":\"2\",\"message\":\"success\",\"data\":{\"size\":65536,\"version\":\"1.1.0\",\"signMethod\":\"SHA256\",\"sign\":\"$(sha_of "$WORK/blocks/stream-7.bin")\",\"dProtocol\":\"mqtt\",\"streamId\":7,\"streamFileId\":1,\"module\":\"MCU\"}}"
wait_report 10 "$n" dev1 '^inform MCU 1\.1\.0$' "MQTT block download of MCU"
got=$(since "$n" dev1 | awk '$1 == "block" {printf "%s/%s ", $2, $3}')
want="0/16384 16384/16384 16384/16384 32768/16384 32768/16384 49152/16384 "
[ "$got" = "$want" ] || fail "block requests '$got', want '$want'"
grep -q '^DROP dn=dev1 stream=7 offset=16384' "$WORK/blocks.log" || fail "no dropped block"
grep -q '^CORRUPT dn=dev1 stream=7 offset=32768' "$WORK/blocks.log" || fail "no corrupted block"
has_since "$n" dev1 '^inform default' && fail "a module install rebooted the device"
grep -q 'CRC-16' "$WORK/dev1.log" || fail "the bad CRC was not noticed"
ok "MQTT: contiguous blocks, a dropped and a corrupted block asked again, MCU 1.1.0 in place"

# ------------------------------------------------------------------ firmware/get answered with a task
kill_device dev1
n=$(last_no)
start_device dev1 --module MCU=1.0.0 --retry self --progress every
wait_report 8 "$n" dev1 '^get default [0-9]+$' "firmware/get after power-on"
has_since "$n" dev1 '^inform MCU 1\.1\.0$' || fail "module version lost across a power cut"
id=$(get_id "$n" dev1 default)
pub "/sys/$PK/dev1/thing/ota/firmware/get_reply" "{\"id\":\"$id\",\"code\":200,\"data\":{\"size\":120000,\"version\":\"3.0.0\",\"signMethod\":\"Md5\",\"sign\":\"$(md5_of "$WORK/fw/v3.bin")\",\"md5\":\"$(md5_of "$WORK/fw/v3.bin")\",\"url\":\"$URL/fw/v3.bin\"}}"
wait_report 10 "$n" dev1 '^inform default 3\.0\.0$' "task from get_reply"
ok "a get_reply with a task (signMethod Md5) upgrades to 3.0.0"

# ------------------------------------------------------------------ verification
n=$(last_no)
push dev1 3.1.0 "$WORK/fw/v5.bin" /fw/v5.bin?badmd5 "" MD5 0123456789abcdef0123456789abcdef
wait_report 8 "$n" dev1 '^step default -3$' "wrong MD5"
push dev1 3.1.0 "$WORK/fw/v5.bin" /fw/v5.bin?badsha "" SHA256 "$(printf '%064d' 7)"
two_fails() { [ "$(since "$n" dev1 | grep -c '^step default -3$')" -ge 2 ]; }
until_ok 8 two_fails || fail "wrong SHA256: no -3"
has_since "$n" dev1 '^inform default 3\.1\.0$' && fail "installed an image that failed verification"
pub "/ota/device/upgrade/$PK/dev1" "{\"code\":\"1000\",\"id\":\"3\",\"data\":{\"size\":120000,\"version\":\"3.2.0\",\"signMethod\":\"CRC32\",\"sign\":\"1234abcd\",\"url\":\"$URL/fw/v5.bin?unknownsign\"}}"
wait_log 5 dev1 'neither MD5 nor SHA256' "unknown signMethod"
sleep 0.5
grep -q 'unknownsign' "$WORK/http.log" && fail "downloaded an image whose signMethod it cannot check"
ok "wrong MD5 and SHA256 -> -3 (not installed); unknown signMethod -> nothing fetched"

# ------------------------------------------------------------------ power cut mid-download, resume
n=$(last_no)
push dev1 4.0.0 "$WORK/fw/v4.bin" /slow/v4.bin
at30() { since "$n" dev1 | awk '$1 == "step" && $3 + 0 >= 30 {f = 1} END {exit !f}'; }
until_ok 10 at30 || fail "slow download did not reach 30 %"
kill_device dev1
n=$(last_no)
start_device dev1 --module MCU=1.0.0 --retry self --progress every
wait_report 8 "$n" dev1 '^inform default 3\.0\.0$' "inform after the power cut"
push dev1 4.0.0 "$WORK/fw/v4.bin" /fw/v4.bin?again
wait_report 10 "$n" dev1 '^inform default 4\.0\.0$' "resumed download"
off=$(grep -E '^REQ /fw/v4\.bin\?again range=bytes=[0-9]+- status=206' "$WORK/http.log" | tail -n 1 |
      sed -E 's/.*range=bytes=([0-9]+)-.*/\1/')
[ -n "$off" ] || fail "no Range request after the power cut"
[ "$off" -ge 120000 ] || fail "resumed at $off, below the 30 % (120000 bytes) already reported"
grep -q '^REQ /fw/v4.bin?again range=- ' "$WORK/http.log" && fail "the re-push downloaded from 0"
ok "power cut at >= 30 %: the same task resumes with Range: bytes=$off-"

# ------------------------------------------------------------------ a cut connection, retried by itself
n=$(last_no)
push dev1 5.0.0 "$WORK/fw/v5.bin" /cut/50000/v5.bin
wait_report 10 "$n" dev1 '^inform default 5\.0\.0$' "cut at 50000"
grep -q '^REQ /cut/50000/v5\.bin range=bytes=50000- status=206' "$WORK/http.log" ||
  fail "no retry with Range: bytes=50000- after the cut"
has_since "$n" dev1 '^step default -' && fail "a failure step although the retry succeeded"
ok "--retry self: the cut connection resumed with Range: bytes=50000-, 5.0.0"

# ------------------------------------------------------------------ 404, burn, boot
n=$(last_no)
push dev1 6.0.0 "$WORK/fw/v6burn.bin" /status/404/x.bin
wait_report 6 "$n" dev1 '^step default -2$' "404"
push dev1 6.0.0 "$WORK/fw/v6burn.bin" /fw/v6burn.bin
wait_report 6 "$n" dev1 '^step default -4$' "fail-burn image"
has_since "$n" dev1 '^inform default 6\.0\.0$' && fail "informs 6.0.0, which was refused"
n=$(last_no)
push dev1 6.1.0 "$WORK/fw/v61boot.bin" /fw/v61boot.bin
wait_report 8 "$n" dev1 '^step default -1$' "rollback of a fail-boot image"
has_since "$n" dev1 '^inform default 5\.0\.0$' || fail "no inform of 5.0.0 after the rollback"
has_since "$n" dev1 '^inform default 6\.1\.0$' && fail "informs 6.1.0, which never ran"
ok "404 -> -2; refused at burn -> -4; fails to boot -> rolled back, -1, informs 5.0.0"

# ------------------------------------------------------------------ power cut while burning
kill_device dev1
n=$(last_no)
BURN_MS=3000 start_device dev1 --module MCU=1.0.0 --retry self --progress every
wait_report 8 "$n" dev1 '^inform default 5\.0\.0$' "restart with a slow burn"
push dev1 7.0.0 "$WORK/fw/v7.bin" /fw/v7.bin?burncut
wait_log 8 dev1 'burning 7\.0\.0' "burning 7.0.0"
sleep 0.8
kill_device dev1
grep -q '"pending": null' "$WORK/dev1.flash/nvram.json" || fail "a cut burn changed the boot table"
n=$(last_no)
start_device dev1 --module MCU=1.0.0 --retry self --progress every
wait_report 8 "$n" dev1 '^inform default 5\.0\.0$' "old version after a cut burn"
push dev1 7.0.0 "$WORK/fw/v7.bin" /fw/v7.bin?afterburncut
wait_report 10 "$n" dev1 '^inform default 7\.0\.0$' "re-push after the cut burn"
grep -q 'afterburncut' "$WORK/http.log" && fail "downloaded again although the breakpoint held the whole file"
ok "power cut while burning: still 5.0.0; the task again burns from the breakpoint, 7.0.0"

# ------------------------------------------------------------------ a breakpoint of other firmware
n=$(last_no)
push dev1 8.0.0 "$WORK/fw/v8.bin" /slow/v8.bin?bp1
until_ok 10 at30 || fail "slow download of 8.0.0 did not reach 30 %"
kill_device dev1
n=$(last_no)
start_device dev1 --module MCU=1.0.0 --retry self --progress every
wait_report 8 "$n" dev1 '^inform default 7\.0\.0$' "inform after the power cut"
push dev1 8.0.1 "$WORK/fw/v8.bin" /fw/v8.bin?bp2   # the same bytes, another version
wait_report 8 "$n" dev1 '^step default -4$' "image 8.0.0 pushed as 8.0.1"
grep -q '^REQ /fw/v8\.bin?bp2 range=- ' "$WORK/http.log" || fail "a breakpoint of 8.0.0 was used for 8.0.1"
ok "a breakpoint of 8.0.0 is not used for 8.0.1 (downloaded from 0; wrong image version -> -4)"

# ------------------------------------------------------------------ garbage
n=$(last_no)
for junk in 'not json' '[1,2,3]' '{"data":1}' '{"code":"1000","data":{"size":"x","version":7}}' \
    '{"code":"1000","data":{"size":10,"version":"9","signMethod":"MD5","sign":"zz","url":"ftp://x"}}' \
    '{"code":"1000","data":{"size":10,"version":"9","module":"NOPE","signMethod":"MD5","sign":"0123456789abcdef0123456789abcdef","url":"http://127.0.0.1:1/x"}}'; do
  pub "/ota/device/upgrade/$PK/dev1" "$junk"
done
pub "/sys/$PK/dev1/thing/ota/firmware/get_reply" '{"id":"1","code":200,"data":{"size":1}}'
head -c 3000 /dev/urandom >"$WORK/binary"
mosquitto_pub -h 127.0.0.1 -p "$MPORT" -q 1 -t "/ota/device/upgrade/$PK/dev1" -f "$WORK/binary"
mosquitto_pub -h 127.0.0.1 -p "$MPORT" -q 1 -t "/sys/$PK/dev1/thing/file/download_reply" -f "$WORK/binary"
head -c 200000 /dev/zero | tr '\0' 'A' >"$WORK/huge"
mosquitto_pub -h 127.0.0.1 -p "$MPORT" -q 1 -t "/ota/device/upgrade/$PK/dev1" -f "$WORK/huge"
ten_ignored() { [ "$(grep -cE 'ota: ignored' "$WORK/dev1.log")" -ge 10 ]; }
until_ok 5 ten_ignored || fail "garbage was not ignored with a console line each"
sleep 0.3
alive dev1 || fail "the device died on garbage"
[ -z "$(since "$n" dev1)" ] || fail "garbage caused messages: $(since "$n" dev1 | tr '\n' ';')"
reports | grep -q ' bad ' && fail "a malformed message was published: $(reports | grep ' bad ' | head -n 1)"
ok "garbage ignored (a console line each, no messages, still alive)"
kill_device dev1

# ------------------------------------------------------------------ dev2: --retry wait, --progress rate
start_device dev2 --module MCU=1.0.0 --retry wait --progress rate:300
wait_report 8 0 dev2 '^get MCU [0-9]+$' "dev2 connect"
n=$(last_no)
push dev2 9.0.0 "$WORK/fw/v9.bin" /cut/60000/v9.bin
wait_report 8 "$n" dev2 '^step default -2$' "--retry wait: -2 after the cut"
[ "$(grep -c '^REQ /cut/60000/v9.bin' "$WORK/http.log")" = 1 ] || fail "--retry wait retried by itself"
push dev2 9.0.0 "$WORK/fw/v9.bin" /fw/v9.bin?resume
wait_report 10 "$n" dev2 '^inform default 9\.0\.0$' "the task again"
grep -q '^REQ /fw/v9\.bin?resume range=bytes=60000- status=206' "$WORK/http.log" ||
  fail "the task again did not resume with Range: bytes=60000-"
# (times are the subscriber's: delivery jitter may take some 50 ms off a gap)
spaced() { reports | awk '$3 == "dev2" && $4 == "step" {
  if (last && $2 - last < 0.2) {print "reports " $2 - last " s apart"; bad = 1} last = $2 } END {exit bad}'; }
spaced || fail "--progress rate:300: $(spaced)"
ok "--retry wait: -2, breakpoint kept, the task again resumed at 60000; reports >= 300 ms apart"
kill_device dev2

# ------------------------------------------------------------------ dev3: HaaS
start_device dev3 --flavour haas --module app=1.0.0 --progress every
wait_report 8 0 dev3 '^inform app 1\.0\.0$' "HaaS informs"
has_since 0 dev3 '^inform default 1\.0\.0$' || fail "HaaS: no inform of default"
n=$(last_no)
pub "/ota/device/upgrade/$PK/dev3" "{\"code\":\"1000\",\"id\":\"4\",\"data\":{\"size\":65536,\"version\":\"1.1.0\",\"signMethod\":\"SHA256\",\"sign\":\"$(sha_of "$WORK/blocks/stream-7.bin")\",\"dProtocol\":\"mqtt\",\"streamId\":7,\"streamFileId\":1,\"module\":\"app\"}}"
wait_log 5 dev3 'HTTP only' "HaaS refuses MQTT downloads"
push dev3 1.1.0 "$WORK/fw/app.bin" /fw/app.bin app SHA256
wait_report 8 "$n" dev3 '^inform app 1\.1\.0$' "HaaS file module"
has_since 0 dev3 '^(get|block) ' && fail "HaaS sent firmware/get or block requests"
has_since "$n" dev3 '^inform default' && fail "HaaS rebooted for a file module"
ok "HaaS: informs, no firmware/get, MQTT download refused, file module app 1.1.0 in place"

echo "PASS: aliyun_device smoke test"
exit 0
