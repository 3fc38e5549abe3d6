#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2317  # literal $ota topics; functions run via until_ok/trap
# Smoke test of tests/devices/qcloud_device.py against real parts: a mosquitto
# broker on a free 127.0.0.1 port, tests/common/range_server.py for the firmware, and
# mosquitto_pub/mosquitto_sub playing the Tencent cloud.  Every wait has a
# deadline; the trap kills and reaps everything we started.  Exit 0 = passed.
# QCDEV_TEST_KEEP=1 keeps the work directory (logs, flash) for a look.
#
# Cases (--retry self --progress every, the defaults): happy path 1.0.0 ->
# 2.0.0 (progress rising to 100, burning, done, new version); wrong MD5 -> -4;
# power cut mid-download, re-push, resume with Range; a cut connection resumed
# in-process; 404 -> -2; 403 -> -3; an image rejected at burn -> -5; an image
# that fails to boot -> done, then rollback, fail -5 and the old version; a
# stall and refused connections -> -1; a power cut during burn; a breakpoint
# for other firmware not used; garbage on the update topic ignored.
# Then --retry wait --progress rate:300 (as the Tencent SDK sample): a cut
# download is fail -1, the version is reported again, nothing is fetched
# until the re-push, which resumes with Range (percent of the whole file); a
# refused connection is one attempt and -1; reports at least 300 ms apart.
# Then the two --bug defects are shown to be live.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEV="$HERE/qcloud_device.py"
SRV="$HERE/../common/range_server.py"
PK=PK1
DN=dev1
UP="\$ota/report/$PK/$DN"
DOWN="\$ota/update/$PK/$DN"

# Debian's python3 has paho-mqtt 1.6; a python3 earlier in PATH may not.
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

WORK=$(mktemp -d "${TMPDIR:-/tmp}/qcdev-test.XXXXXX")
PIDS=()
DEV_PID=
cleanup() {
  local rc=$?
  trap '' PIPE  # a closed reader of our output must not stop the cleanup
  [ -n "$DEV_PID" ] && PIDS+=("$DEV_PID")
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  if [ "$rc" -ne 0 ]; then
    echo "---- device console (last 40 lines)"; tail -n 40 "$WORK/dev.log" 2>/dev/null
    echo "---- http log"; cat "$WORK/http.log" 2>/dev/null
    echo "---- reports"; cat "$WORK/sub.log" 2>/dev/null
  fi
  if [ -n "${QCDEV_TEST_KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
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

# The reports seen on $UP, one normalized line each, numbered (sub.log lines
# are "UNIXTIME TOPIC PAYLOAD"; REPORTS_TIMES=1 puts the time after N):
#   N version V            (report_version)
#   N STATE PERCENT CODE V (report_progress; PERCENT "-" when absent)
#   N bad <payload>        (anything else: must never happen)
reports() {
  "$PY" - "$WORK/sub.log" "$UP" "${REPORTS_TIMES:-}" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    when, _, rest = line.rstrip("\n").partition(" ")
    topic, _, payload = rest.partition(" ")
    if topic != sys.argv[2]:
        continue
    n += 1
    head = "%d %s" % (n, when) if sys.argv[3] else str(n)
    try:
        m = json.loads(payload)
        if m["type"] == "report_version":
            print(head, "version", m["report"]["version"])
        elif m["type"] == "report_progress":
            p = m["report"]["progress"]
            print(head, p["state"], p.get("percent", "-"), p["result_code"],
                  m["report"]["version"])
        else:
            print(head, "bad", payload)
    except (ValueError, KeyError, TypeError):
        print(head, "bad", payload)
EOF
}
# since N: the normalized reports after report number N.
since() { reports | awk -v n="$1" '$1 > n'; }
last_no() { reports | tail -n 1 | awk '{print $1+0}'; }
# has_since N REGEX: a report after N matches REGEX (on "STATE PERCENT CODE V").
has_since() { since "$1" | cut -d' ' -f2- | grep -Eq "$2"; }
# has_after N REGEX1 REGEX2: after report N, a report matching REGEX2 follows
# one matching REGEX1 (e.g. report_version after a fail).
has_after() {
  since "$1" | cut -d' ' -f2- | awk -v a="$2" -v b="$3" 'seen && $0 ~ b {f=1} $0 ~ a {seen=1} END {exit !f}'
}
wait_after() { # SECS N REGEX1 REGEX2 WHAT
  until_ok "$1" has_after "$2" "$3" "$4" || fail "no report '$4' after '$3' (after #$2) within $1 s ($5)"
}
wait_report() { # SECS N REGEX WHAT
  until_ok "$1" has_since "$2" "$3" || fail "no report matching '$3' after #$2 within $1 s ($4)"
}

# start_device [FLAGS...]: the device on our flash; FLAGS go to "run" (e.g. --retry wait).
start_device() {
  "$PY" "$DEV" run --host 127.0.0.1 --port "$MPORT" --product "$PK" --device "$DN" \
    --state "$WORK/flash" --version 1.0.0 --boot-ms 50 --burn-ms "${BURN_MS:-100}" \
    --download-timeout 2 --retries 3 "$@" >>"$WORK/dev.log" 2>&1 &
  DEV_PID=$!
}
# downloading_ok N VERSION: after report N, the downloading reports of VERSION
# rise strictly (percent of the whole file) and the last one before burning is 100.
downloading_ok() {
  since "$1" | cut -d' ' -f2- | awk -v v="$2" '
    $1 == "downloading" && $4 == v { if (n && $2 <= last) bad = 1; last = $2; n++ }
    $1 == "burning" && $4 == v { burnt = 1; if (last != 100) bad = 1 }
    END { exit !(n >= 2 && burnt && !bad) }'
}
# first_pct N VERSION: the first downloading percent of VERSION after report N.
first_pct() { since "$1" | awk -v v="$2" '$2 == "downloading" && $5 == v {print $3; exit}'; }
# max_pct N VERSION: the highest downloading percent of VERSION after report N (-1: none).
max_pct() { since "$1" | awk -v v="$2" 'BEGIN {m = -1} $2 == "downloading" && $5 == v && $3 > m {m = $3} END {print m}'; }
# reached N VERSION PCT: a downloading report of VERSION at PCT % or more after N.
reached() { [ "$(max_pct "$1" "$2")" -ge "$3" ]; }
kill_device() { # a power cut
  kill -KILL "$DEV_PID" 2>/dev/null; wait "$DEV_PID" 2>/dev/null; DEV_PID=
}
push() { # VERSION SIZE MD5 URL
  mosquitto_pub -h 127.0.0.1 -p "$MPORT" -q 1 -t "$DOWN" -m \
    "{\"type\":\"update_firmware\",\"file_size\":$2,\"md5sum\":\"$3\",\"url\":\"$4\",\"version\":\"$1\"}" ||
    fail "mosquitto_pub failed"
}
md5_of() { md5sum "$1" | cut -d' ' -f1; }
size_of() { stat -c %s "$1"; }

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

mkdir "$WORK/fw"
"$PY" "$SRV" --dir "$WORK/fw" --port-file "$WORK/hport" >"$WORK/http.log" 2>&1 &
PIDS+=($!)
until_ok 5 test -s "$WORK/hport" || fail "range_server did not start"
HPORT=$(cat "$WORK/hport")
URL="http://127.0.0.1:$HPORT"

mosquitto_sub -h 127.0.0.1 -p "$MPORT" -q 1 -F '%U %t %p' -t '$ota/report/#' >"$WORK/sub.log" 2>&1 &
PIDS+=($!)
probe_seen() { mosquitto_pub -h 127.0.0.1 -p "$MPORT" -t '$ota/report/probe' -m p; grep -q '^[0-9.]* \$ota/report/probe ' "$WORK/sub.log"; }
until_ok 5 probe_seen || fail "mosquitto_sub is not receiving"

mk() { "$PY" "$DEV" mkimage "$@" >/dev/null || fail "mkimage $*"; }
mk --version 2.0.0 --size 150000 -o "$WORK/fw/v2.bin"
mk --version 3.0.0 --size 400000 -o "$WORK/fw/v3.bin"
mk --version 3.1.0 --size 120000 -o "$WORK/fw/v31.bin"
mk --version 4.0.0 --size 50000 --fail-burn -o "$WORK/fw/v4burn.bin"
mk --version 5.0.0 --size 50000 --fail-boot -o "$WORK/fw/v5boot.bin"
mk --version 3.2.0 --size 300000 -o "$WORK/fw/v32.bin"
[ "$(size_of "$WORK/fw/v2.bin")" = 150000 ] || fail "mkimage size is not exact"
"$PY" "$DEV" mkimage --version 9 --size 10 -o "$WORK/fw/tiny.bin" >/dev/null 2>&1 &&
  fail "mkimage accepted a size smaller than the header"

# ------------------------------------------------------------------ boot
start_device
wait_report 5 0 '^version 1\.0\.0$' "first report_version"
ok "factory boot reports version 1.0.0"

# ------------------------------------------------------------------ happy path
n=$(last_no)
push 2.0.0 150000 "$(md5_of "$WORK/fw/v2.bin")" "$URL/fw/v2.bin"
wait_report 10 "$n" '^version 2\.0\.0$' "happy path"
seq=$(since "$n" | cut -d' ' -f2- | grep -v '^downloading ' | tr '\n' ';')
want="burning - 0 2.0.0;done - 0 2.0.0;version 2.0.0;"
[ "$seq" = "$want" ] || fail "happy path reports besides downloading: got '$seq' want '$want'"
downloading_ok "$n" 2.0.0 || fail "happy path: downloading percents do not rise to 100 before burning: $(since "$n" | tr '\n' ';')"
# --progress every: one report per 8 KiB chunk that moves the percent
nd=$(since "$n" | grep -c ' downloading ')
[ "$nd" -ge 18 ] || fail "happy path: $nd downloading reports for 19 chunks (--progress every)"
ok "happy path: $nd downloading reports rising to 100, burning, done, report_version 2.0.0"

# ------------------------------------------------------------------ wrong MD5
n=$(last_no)
push 3.0.0 400000 0123456789abcdef0123456789abcdef "$URL/fw/v3.bin?badmd5"
wait_report 10 "$n" '^fail - -4 3\.0\.0$' "wrong md5"
wait_after 5 "$n" '^fail - -4 ' '^version 2\.0\.0$' "report_version after -4"
has_since "$n" '^(burning|done) ' && fail "burning/done reported despite a wrong MD5"
ok "wrong MD5: fail -4, no burning, report_version 2.0.0 again"

# ------------------------------------------------------------------ power cut, resume with Range
n=$(last_no)
V3MD5=$(md5_of "$WORK/fw/v3.bin")
push 3.0.0 400000 "$V3MD5" "$URL/slow/v3.bin"
until_ok 10 reached "$n" 3.0.0 30 || fail "slow download of 3.0.0 did not reach 30 %"
kill_device
ok "power cut at >= 30 % of the download"
start_device
wait_report 5 "$n" '^version 2\.0\.0$' "report_version after the power cut"
n=$(last_no)
push 3.0.0 400000 "$V3MD5" "$URL/fw/v3.bin"
wait_report 10 "$n" '^version 3\.0\.0$' "resumed update"
has_since "$n" '^done - 0 3\.0\.0$' || fail "no done for 3.0.0"
p1=$(first_pct "$n" 3.0.0)
# 30 % was reported before the cut and the breakpoint lags by at most 64 KiB (16 %)
[ -n "$p1" ] && [ "$p1" -ge 13 ] || fail "resumed download first reported ${p1:-nothing} %, want >= 13 (restarted from 0?)"
downloading_ok "$n" 3.0.0 || fail "resumed download: percents do not rise to 100"
off=$(grep -E '^REQ /fw/v3\.bin range=bytes=[0-9]+- ' "$WORK/http.log" | tail -n 1 |
      sed -E 's/.*range=bytes=([0-9]+)-.*/\1/')
[ -n "$off" ] || fail "no Range request after the power cut"
# 30 % was reported before the cut; the breakpoint lags by at most 64 KiB.
if [ "$off" -lt 54464 ] || [ "$off" -ge 400000 ]; then
  fail "resumed at offset $off, want 54464..399999"
fi
grep -q '^REQ /fw/v3\.bin range=- ' "$WORK/http.log" && fail "the re-push downloaded from 0"
ok "resumed with Range: bytes=$off- and reached 3.0.0"

# ------------------------------------------------------------------ a cut connection, resumed in-process
n=$(last_no)
push 3.1.0 120000 "$(md5_of "$WORK/fw/v31.bin")" "$URL/cut/50000/v31.bin"
wait_report 10 "$n" '^version 3\.1\.0$' "update over a connection cut at 50000"
grep -q '^REQ /cut/50000/v31\.bin range=bytes=50000- status=206' "$WORK/http.log" ||
  fail "no retry with Range: bytes=50000- after the cut"
ok "connection cut at 50000: retried with Range bytes=50000-, reached 3.1.0"

# ------------------------------------------------------------------ 404 and 403
n=$(last_no)
push 6.0.0 1000 0123456789abcdef0123456789abcdef "$URL/status/404/x.bin"
wait_report 5 "$n" '^fail - -2 6\.0\.0$' "404"
wait_after 5 "$n" '^fail - -2 ' '^version 3\.1\.0$' "report_version after -2"
n=$(last_no)
push 6.0.0 1000 0123456789abcdef0123456789abcdef "$URL/status/403/x.bin"
wait_report 5 "$n" '^fail - -3 6\.0\.0$' "403"
wait_after 5 "$n" '^fail - -3 ' '^version 3\.1\.0$' "report_version after -3"
ok "404 -> -2, 403 -> -3"

# ------------------------------------------------------------------ rejected at burn
n=$(last_no)
push 4.0.0 50000 "$(md5_of "$WORK/fw/v4burn.bin")" "$URL/fw/v4burn.bin"
wait_report 5 "$n" '^fail - -5 4\.0\.0$' "fail-burn image"
wait_after 5 "$n" '^fail - -5 ' '^version 3\.1\.0$' "report_version after -5"
has_since "$n" '^burning - 0 4\.0\.0$' || fail "no burning report before the -5"
ok "image rejected at burn: burning, then fail -5, still 3.1.0"

# ------------------------------------------------------------------ fails to boot: rollback
n=$(last_no)
push 5.0.0 50000 "$(md5_of "$WORK/fw/v5boot.bin")" "$URL/fw/v5boot.bin"
wait_report 5 "$n" '^fail - -5 5\.0\.0$' "rollback of a fail-boot image"
wait_after 5 "$n" '^fail - -5 ' '^version 3\.1\.0$' "old version after the rollback"
has_since "$n" '^done - 0 5\.0\.0$' || fail "no done before the reboot into 5.0.0"
has_since "$n" '^version 5\.0\.0$' && fail "reported version 5.0.0, which never ran"
ok "image that fails to boot: rolled back, fail -5, version 3.1.0"

# ------------------------------------------------------------------ -1: stall, and retries without progress
n=$(last_no)
push 6.0.0 150000 "$(md5_of "$WORK/fw/v2.bin")" "$URL/stall/v2.bin"
wait_report 6 "$n" '^fail - -1 6\.0\.0$' "a stalled download (--download-timeout 2)"
wait_after 5 "$n" '^fail - -1 ' '^version 3\.1\.0$' "report_version after -1"
n=$(last_no)
DEAD=$(free_port)  # nothing listens there: every attempt is refused
push 6.0.0 1000 0123456789abcdef0123456789abcdef "http://127.0.0.1:$DEAD/fw/v2.bin"
wait_report 5 "$n" '^fail - -1 6\.0\.0$' "connection refused --retries times"
[ "$(grep -c "download broken at 0/1000" "$WORK/dev.log")" = 3 ] ||
  fail "expected exactly 3 attempts (--retries 3) before -1"
ok "stall -> -1, three refused attempts -> -1"

# ------------------------------------------------------------------ power cut during burn
kill_device
n0=$(last_no)
BURN_MS=3000 start_device
wait_report 5 "$n0" '^version 3\.1\.0$' "restart with a slow burn"
n=$(last_no)
V32MD5=$(md5_of "$WORK/fw/v32.bin")
push 3.2.0 300000 "$V32MD5" "$URL/fw/v32.bin?burncut"
wait_report 5 "$n" '^burning - 0 3\.2\.0$' "burning 3.2.0"
sleep 0.8
kill_device
grep -q '"pending": null' "$WORK/flash/boot.json" || fail "boot table changed by a cut burn"
start_device
wait_report 5 "$n" '^version 3\.1\.0$' "old version after a power cut during burn"
has_since "$n" '^version 3\.2\.0$' && fail "reported 3.2.0 after a cut burn"
n=$(last_no)
push 3.2.0 300000 "$V32MD5" "$URL/fw/v32.bin?afterburncut"
wait_report 10 "$n" '^version 3\.2\.0$' "re-push after the cut burn"
grep -q 'afterburncut' "$WORK/http.log" && fail "re-downloaded although the breakpoint held the whole file"
ok "power cut during burn: still 3.1.0; re-push burns from the breakpoint, reaches 3.2.0"

# ------------------------------------------------------------------ a breakpoint for other firmware is not used
n=$(last_no)
V2MD5=$(md5_of "$WORK/fw/v2.bin")
push 7.0.0 150000 "$V2MD5" "$URL/slow/v2.bin?bp1"
until_ok 10 reached "$n" 7.0.0 30 || fail "slow download of 7.0.0 did not reach 30 %"
kill_device
start_device
wait_report 5 "$n" '^version 3\.2\.0$' "report_version after the power cut"
n=$(last_no)
push 7.0.1 150000 "$V2MD5" "$URL/fw/v2.bin?bp2"   # same bytes, another version
wait_report 10 "$n" '^fail - -5 7\.0\.1$' "image version 2.0.0 pushed as 7.0.1"
grep -q '^REQ /fw/v2\.bin?bp2 range=- ' "$WORK/http.log" ||
  fail "a breakpoint recorded for 7.0.0 was used for 7.0.1"
p1=$(first_pct "$n" 7.0.1)
[ -n "$p1" ] && [ "$p1" -lt 10 ] || fail "7.0.1 first reported ${p1:-nothing} %, not a start at 0"
wait_after 5 "$n" '^fail - -5 ' '^version 3\.2\.0$' "report_version after -5"
ok "breakpoint of 7.0.0 not used for 7.0.1 (downloaded from 0); wrong image version -> -5"

# ------------------------------------------------------------------ garbage
n=$(last_no)
for junk in 'not json' '{"type":"update_firmware"}' '[1,2,3]' \
    '{"type":"update_firmware","file_size":"12","md5sum":"x","url":"ftp://a","version":""}'; do
  mosquitto_pub -h 127.0.0.1 -p "$MPORT" -q 1 -t "$DOWN" -m "$junk" || fail "mosquitto_pub"
done
head -c 200000 /dev/zero | tr '\0' 'A' >"$WORK/huge.txt"
mosquitto_pub -h 127.0.0.1 -p "$MPORT" -q 1 -t "$DOWN" -f "$WORK/huge.txt" || fail "mosquitto_pub"
five_ignored() { [ "$(grep -c 'ota: ignored' "$WORK/dev.log")" -ge 5 ]; }
until_ok 5 five_ignored ||
  fail "garbage was not ignored with a console line each"
kill -0 "$DEV_PID" 2>/dev/null || fail "the device died on garbage"
[ -z "$(since "$n")" ] || fail "garbage caused reports: $(since "$n" | tr '\n' ';')"
reports | grep -q ' bad ' && fail "a malformed report was published"
ok "garbage ignored (5 console lines, no reports, still alive)"

# ------------------------------------------------------------------ --retry wait --progress rate:300
# As the Tencent SDK sample: no retry of its own; fail, version, wait for the re-push.
kill_device
n0=$(last_no)
start_device --retry wait --progress rate:300
wait_report 5 "$n0" '^version 3\.2\.0$' "restart with --retry wait --progress rate:300"
mk --version 3.3.0 --size 200000 -o "$WORK/fw/v33.bin"
V33MD5=$(md5_of "$WORK/fw/v33.bin")
n=$(last_no)
push 3.3.0 200000 "$V33MD5" "$URL/cut/60000/v33.bin"
wait_report 5 "$n" '^fail - -1 3\.3\.0$' "--retry wait: a download cut at 60000"
wait_after 5 "$n" '^fail - -1 ' '^version 3\.2\.0$' "report_version after the cut (--retry wait)"
sleep 1  # a device that retried by itself would have asked again by now
[ "$(grep -c '^REQ /cut/60000/v33\.bin ' "$WORK/http.log")" = 1 ] ||
  fail "--retry wait fetched again without a re-push"
has_since "$n" '^(burning|done) ' && fail "burning/done after a cut download (--retry wait)"
grep -q '"offset": 60000' "$WORK/flash/dl.json" || fail "breakpoint not kept at 60000: $(cat "$WORK/flash/dl.json")"
ok "--retry wait: cut at 60000 -> fail -1, report_version 3.2.0, no request of its own, breakpoint kept"
n=$(last_no)
push 3.3.0 200000 "$V33MD5" "$URL/cut/60000/v33.bin?repush"
wait_report 10 "$n" '^version 3\.3\.0$' "re-push after the cut (--retry wait)"
grep -q '^REQ /cut/60000/v33\.bin?repush range=bytes=60000- status=206' "$WORK/http.log" ||
  fail "the re-push did not resume with Range: bytes=60000-"
p1=$(first_pct "$n" 3.3.0)
[ -n "$p1" ] && [ "$p1" -ge 30 ] || fail "after the resume at 30 % the first percent is ${p1:-none} (of the remainder?)"
ok "--retry wait: the re-push resumed with Range: bytes=60000- (first percent $p1), reached 3.3.0"

# rate:300 on a download of about 3 s: reports at least 300 ms apart, and several
mk --version 3.4.0 --size 300000 -o "$WORK/fw/v34.bin"
n=$(last_no)
push 3.4.0 300000 "$(md5_of "$WORK/fw/v34.bin")" "$URL/slow/v34.bin"
wait_report 15 "$n" '^version 3\.4\.0$' "slow download with --progress rate:300"
gaps=$(REPORTS_TIMES=1 since "$n" | awk '$3 == "downloading" { if (t) printf "%.3f\n", $2 - t; t = $2; c++ } END { print "count", c }')
cnt=$(echo "$gaps" | awk '$1 == "count" {print $2}')
short=$(echo "$gaps" | awk '$1 != "count" && $1 < 0.25' | head -n 1)
[ -z "$short" ] || fail "--progress rate:300: two downloading reports $short s apart"
[ "${cnt:-0}" -ge 4 ] && [ "$cnt" -le 12 ] || fail "--progress rate:300: $cnt downloading reports in a 3 s download, want 4..12"
ok "--progress rate:300: $cnt downloading reports, none closer than 0.25 s"

DEAD=$(free_port)
before=$(grep -c 'download broken at 0/1000' "$WORK/dev.log")
n=$(last_no)
push 6.0.0 1000 0123456789abcdef0123456789abcdef "http://127.0.0.1:$DEAD/fw/v2.bin"
wait_report 5 "$n" '^fail - -1 6\.0\.0$' "connection refused (--retry wait)"
wait_after 5 "$n" '^fail - -1 ' '^version 3\.4\.0$' "report_version after -1 (--retry wait)"
[ "$(grep -c 'download broken at 0/1000' "$WORK/dev.log")" = $((before + 1)) ] ||
  fail "--retry wait made more than one attempt at a refused connection"
ok "--retry wait: a refused connection is one attempt, fail -1, report_version 3.4.0"

# ------------------------------------------------------------------ the defects are live
kill_device
n0=$(last_no)
start_device --bug resume-percent-of-remainder
wait_report 5 "$n0" '^version 3\.4\.0$' "restart with --bug resume-percent-of-remainder"
mk --version 3.5.0 --size 200000 -o "$WORK/fw/v35.bin"
n=$(last_no)
push 3.5.0 200000 "$(md5_of "$WORK/fw/v35.bin")" "$URL/cut/100000/v35.bin"
wait_report 10 "$n" '^version 3\.5\.0$' "update with --bug resume-percent-of-remainder"
since "$n" | awk '$2 == "downloading" { if ($3 < m) low = 1; if ($3 > m) m = $3 } END { exit !low }' ||
  fail "--bug resume-percent-of-remainder: the percent did not drop after the resume at 50 %"
ok "--bug resume-percent-of-remainder: after the resume at 50 % the percent dropped"

kill_device
n0=$(last_no)
start_device --bug repush-restarts
wait_report 5 "$n0" '^version 3\.5\.0$' "restart with --bug repush-restarts"
n=$(last_no)
push 3.2.0 300000 "$V32MD5" "$URL/slow/v32.bin?bug1"
until_ok 10 reached "$n" 3.2.0 30 || fail "slow download for --bug repush-restarts did not reach 30 %"
kill_device
start_device --bug repush-restarts
wait_report 5 "$n" '^version 3\.5\.0$' "report_version after the power cut (--bug repush-restarts)"
n=$(last_no)
push 3.2.0 300000 "$V32MD5" "$URL/fw/v32.bin?bug2"
wait_report 10 "$n" '^version 3\.2\.0$' "re-push with --bug repush-restarts"
grep -q '^REQ /fw/v32\.bin?bug2 range=- ' "$WORK/http.log" ||
  fail "--bug repush-restarts: the re-push resumed with Range"
ok "--bug repush-restarts: the re-push downloaded from 0 despite a matching breakpoint"

echo "PASS: qcloud_device smoke test"
exit 0
