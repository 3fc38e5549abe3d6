#!/usr/bin/env bash
# End-to-end test of otadev's qcloud dialect against a real mosquitto broker
# and a loopback HTTP server (tests/common/range_server.py).
#   e2e_qcloud.sh OTADEV MKIMAGE RANGE_SERVER_PY
# Every wait has a timeout; every process started here is killed and reaped on
# exit. KEEP=1 keeps the work directory for a post-mortem.
set -u
OTADEV=$1 MKIMAGE=$2 RANGE_SERVER=$3
T=$(mktemp -d /tmp/otadev-e2e.XXXXXX)
PIDS=()
declare -A DEV

cleanup() {
  for p in "${PIDS[@]}" "${DEV[@]}"; do kill -9 "$p" 2>/dev/null; done
  for p in "${PIDS[@]}" "${DEV[@]}"; do wait "$p" 2>/dev/null; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  for f in "$T"/*.console "$T"/reports.log "$T"/http.log; do
    [ -f "$f" ] && { echo "----- $f (last 40 lines)"; tail -n 40 "$f"; }
  done
  exit 1
}
pass() { echo "ok - $*"; }

# wait_for FILE PATTERN [SECONDS]: waits until FILE has a line matching the
# extended regex PATTERN.
wait_for() {
  local file=$1 pat=$2 secs=${3:-10} i
  for ((i = 0; i < secs * 20; i++)); do
    grep -Eq -- "$pat" "$file" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
count() { grep -Ec -- "$2" "$1" 2>/dev/null || true; }

. "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh" # free_port

# ---- the cloud side ---------------------------------------------------------
MQ_PORT=$(free_port)
cat >"$T/mosquitto.conf" <<CONF
listener $MQ_PORT 127.0.0.1
allow_anonymous true
persistence false
user $(id -un)
log_dest file $T/mosquitto.log
CONF
mosquitto -c "$T/mosquitto.conf" &
PIDS+=($!)
up=0
for ((i = 0; i < 100; i++)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$MQ_PORT") 2>/dev/null; then up=1; break; fi
  sleep 0.05
done
[ $up = 1 ] || fail "mosquitto did not listen on $MQ_PORT"

mkdir -p "$T/www"
python3 "$RANGE_SERVER" --dir "$T/www" --port-file "$T/http.port" --log "$T/http.log" --rate 100000 &
PIDS+=($!)
for ((i = 0; i < 100; i++)); do [ -s "$T/http.port" ] && break; sleep 0.05; done
[ -s "$T/http.port" ] || fail "range_server did not start"
HP=$(cat "$T/http.port")
BASE="http://127.0.0.1:$HP"

MD5_V2=$("$MKIMAGE" "$T/www/v2.bin" 2.0.0 200000) || fail "mkimage v2"
MD5_BIG=$("$MKIMAGE" "$T/www/v2big.bin" 2.0.0 300000) || fail "mkimage v2big"
MD5_BOOT=$("$MKIMAGE" "$T/www/v2boot.bin" 2.0.0 50000 fail-boot) || fail "mkimage v2boot"
SIZE_V2=200000 SIZE_BIG=300000 SIZE_BOOT=50000
BAD_MD5=00000000000000000000000000000000

# One subscriber records every report of every device, with its topic.
R="$T/reports.log"
mosquitto_sub -h 127.0.0.1 -p "$MQ_PORT" -v -t '$ota/report/P1/+' -t 'otadev/probe' >"$R" &
PIDS+=($!)
for ((i = 0; i < 50; i++)); do
  mosquitto_pub -h 127.0.0.1 -p "$MQ_PORT" -t otadev/probe -m ready
  wait_for "$R" '^otadev/probe ready' 0.2 2>/dev/null && break
  grep -q '^otadev/probe ready' "$R" && break
done
grep -q '^otadev/probe ready' "$R" || fail "the report subscriber did not come up"

# ---- helpers for devices ------------------------------------------------------
start_dev() { # NAME [otadev options...]
  local name=$1
  shift
  "$OTADEV" --dialect qcloud --host 127.0.0.1 --port "$MQ_PORT" --product P1 --device "$name" \
    --state "$T/state-$name" --boot-ms 50 --burn-ms 200 --download-timeout 3 "$@" \
    >>"$T/$name.console" 2>&1 &
  DEV[$name]=$!
}
push() { # NAME URL SIZE MD5 VERSION
  mosquitto_pub -h 127.0.0.1 -p "$MQ_PORT" -q 1 -t "\$ota/update/P1/$1" \
    -m "{\"type\":\"update_firmware\",\"file_size\":$3,\"md5sum\":\"$4\",\"url\":\"$2\",\"version\":\"$5\"}"
}
pub_raw() { mosquitto_pub -h 127.0.0.1 -p "$MQ_PORT" -q 1 -t "\$ota/update/P1/$1" -m "$2"; }
rep() { echo "^\\\$ota/report/P1/$1 $2"; } # a regex for one device's report line
version_re() { rep "$1" "\\{\"type\":\"report_version\",\"report\":\\{\"version\":\"$2\"\\}\\}"; }
state_re() { rep "$1" ".*\"state\":\"$2\""; }
fail_re() { rep "$1" ".*\"state\":\"fail\",\"result_code\":\"$2\""; }
stop_dev() { # NAME: SIGTERM, must exit 0 within 5 s
  local pid=${DEV[$1]} i
  kill -TERM "$pid"
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$pid" 2>/dev/null && fail "$1 did not stop on SIGTERM"
  wait "$pid"
  local rc=$?
  unset "DEV[$1]"
  [ $rc = 0 ] || fail "$1 exited $rc after SIGTERM"
}
dev_lines() { grep -E "^\\\$ota/report/P1/$1 " "$R" | cut -d' ' -f2-; }

# ---- 1. version reported, garbage ignored, happy path -------------------------
start_dev d1
wait_for "$R" "$(version_re d1 1.0.0)" || fail "d1 did not report version 1.0.0"
pass "version 1.0.0 reported on connect"

pub_raw d1 'this is {not json'
pub_raw d1 '{"type":"update_firmware","file_size":"big","md5sum":"x","url":"http://127.0.0.1/","version":"2"}'
wait_for "$T/d1.console" 'ignored malformed message: not valid JSON' || fail "garbage not reported"
wait_for "$T/d1.console" 'ignored malformed message: "file_size"' || fail "bad field not reported"
pass "malformed messages ignored with a console line"

push d1 "$BASE/fw/v2.bin" $SIZE_V2 "$MD5_V2" 2.0.0
wait_for "$R" "$(version_re d1 2.0.0)" 15 || fail "d1 did not come back with version 2.0.0"
mapfile -t L < <(dev_lines d1)
seq=""
for l in "${L[@]}"; do
  case $l in
  *'"report_version"'*) seq+="V$(sed -E 's/.*"version":"([^"]*)".*/\1/' <<<"$l") " ;;
  *'"state":"downloading"'*) seq+="D$(sed -E 's/.*"percent":"([0-9]+)".*/\1/' <<<"$l") " ;;
  *'"state":"burning"'*) seq+="B " ;;
  *'"state":"done"'*) seq+="OK " ;;
  *) seq+="? " ;;
  esac
done
echo "d1 reports: $seq"
[[ $seq =~ ^V1\.0\.0\ (D[0-9]+\ ){5,}D100\ B\ OK\ V2\.0\.0\ $ ]] || fail "d1 report sequence: $seq"
prev=-1
for p in $(grep -oE 'D[0-9]+' <<<"$seq" | tr -d D); do
  [ "$p" -gt "$prev" ] || fail "d1 progress not increasing: $seq"
  prev=$p
done
grep -q '"state":"downloading","percent":"[0-9]*","result_code":"0","result_msg":""},"version":"2.0.0"' "$R" ||
  fail "downloading report shape"
wait_for "$T/d1.console" 'boot slot=b version=2.0.0' || fail "d1 console shows no boot of slot b"
pass "happy path: downloading ... 100, burning, done, report_version 2.0.0"

stop_dev d1
pass "SIGTERM: graceful exit 0"

# ---- 2. wrong md5 -> -4, version unchanged ------------------------------------
start_dev d2
wait_for "$R" "$(version_re d2 1.0.0)" || fail "d2 did not report 1.0.0"
push d2 "$BASE/fw/v2.bin" $SIZE_V2 "$BAD_MD5" 2.0.0
wait_for "$R" "$(fail_re d2 -4)" 15 || fail "d2: no fail -4 for a wrong md5"
wait_for "$T/d2.console" 'md5 mismatch' || fail "d2: console does not say md5 mismatch"
[ "$(count "$R" "$(version_re d2 1.0.0)")" -ge 2 ] || wait_for "$R" "$(version_re d2 1.0.0).*" 5
sleep 0.3
[ "$(count "$R" "$(version_re d2 1.0.0)")" -ge 2 ] || fail "d2: no report_version 1.0.0 after the failure"
[ "$(count "$R" "$(state_re d2 burning)")" = 0 ] || fail "d2 burnt an image with a wrong md5"
[ "$(count "$R" "$(version_re d2 2.0.0)")" = 0 ] || fail "d2 reports 2.0.0 after a wrong md5"
[ -e "$T/state-d2/download.part" ] && fail "d2 kept the part file after -4"
pass "wrong md5: fail -4, version stays 1.0.0"

# ---- 3. 404 -> -2, 403 -> -3 ---------------------------------------------------
push d2 "$BASE/status/404/v2.bin" $SIZE_V2 "$MD5_V2" 2.0.0
wait_for "$R" "$(fail_re d2 -2)" 10 || fail "d2: no fail -2 on HTTP 404"
push d2 "$BASE/status/403/v2.bin" $SIZE_V2 "$MD5_V2" 2.0.0
wait_for "$R" "$(fail_re d2 -3)" 10 || fail "d2: no fail -3 on HTTP 403"
pass "HTTP 404 -> -2, HTTP 403 -> -3"
stop_dev d2

# ---- 4. power cut mid-download, resume with Range -----------------------------
start_dev d3
wait_for "$R" "$(version_re d3 1.0.0)" || fail "d3 did not report 1.0.0"
push d3 "$BASE/slow/v2big.bin" $SIZE_BIG "$MD5_BIG" 2.0.0
wait_for "$R" "$(rep d3 '.*"percent":"(2|3|4|5)0"')" 10 || fail "d3 download did not progress"
kill -9 "${DEV[d3]}"
wait "${DEV[d3]}" 2>/dev/null
unset "DEV[d3]"
part=$(stat -c %s "$T/state-d3/download.part" 2>/dev/null || echo 0)
[ "$part" -gt 0 ] || fail "d3: no partial download after the power cut"
[ -s "$T/state-d3/breakpoint.json" ] || fail "d3: no breakpoint.json after the power cut"
before=$(count "$R" "$(version_re d3 1.0.0)")
start_dev d3
for ((i = 0; i < 200; i++)); do
  [ "$(count "$R" "$(version_re d3 1.0.0)")" -gt "$before" ] && break
  sleep 0.05
done
[ "$(count "$R" "$(version_re d3 1.0.0)")" -gt "$before" ] || fail "d3 did not report 1.0.0 after power on"
push d3 "$BASE/slow/v2big.bin" $SIZE_BIG "$MD5_BIG" 2.0.0
wait_for "$R" "$(version_re d3 2.0.0)" 15 || fail "d3 did not finish the resumed upgrade"
mapfile -t REQ < <(grep -E '^REQ /slow/v2big.bin ' "$T/http.log")
[ "${#REQ[@]}" -ge 2 ] || fail "d3: expected 2 requests, got ${#REQ[@]}"
[[ ${REQ[0]} == *"range=- "* ]] || fail "d3: first request already had a Range: ${REQ[0]}"
[[ ${REQ[1]} =~ range=bytes=([0-9]+)- ]] || fail "d3: second request has no Range: ${REQ[1]}"
n=${BASH_REMATCH[1]}
[ "$n" -gt 0 ] && [ "$n" -ge "$part" ] || fail "d3: resumed at $n, part file had $part bytes"
wait_for "$T/d3.console" "breakpoint matches: resume at offset=$n" || fail "d3: console does not show the resume"
pass "power cut mid-download: resumed with Range: bytes=$n-"
stop_dev d3

# ---- 5. --bug no-md5 accepts a wrong md5 --------------------------------------
start_dev d4 --bug no-md5
wait_for "$R" "$(version_re d4 1.0.0)" || fail "d4 did not report 1.0.0"
push d4 "$BASE/fw/v2.bin" $SIZE_V2 "$BAD_MD5" 2.0.0
wait_for "$R" "$(version_re d4 2.0.0)" 15 || fail "d4 (--bug no-md5) did not accept the wrong md5"
[ "$(count "$R" "$(fail_re d4 -4)")" = 0 ] || fail "d4 reported -4 despite --bug no-md5"
pass "--bug no-md5 accepts a wrong md5 (the suite can see the defect)"
stop_dev d4

# ---- 6. an image that fails to boot is rolled back -----------------------------
start_dev d5
wait_for "$R" "$(version_re d5 1.0.0)" || fail "d5 did not report 1.0.0"
push d5 "$BASE/fw/v2boot.bin" $SIZE_BOOT "$MD5_BOOT" 2.0.0
wait_for "$R" "$(state_re d5 done)" 15 || fail "d5: no done for the fail-boot image"
wait_for "$R" "$(fail_re d5 -5).*rollback.*\"version\":\"2.0.0\"" 10 || fail "d5: no fail -5 naming the rollback"
wait_for "$T/d5.console" 'panic: image 2.0.0 failed to boot' || fail "d5: no panic line"
[ "$(count "$R" "$(version_re d5 2.0.0)")" = 0 ] || fail "d5 reported a version it does not run"
[ "$(count "$R" "$(version_re d5 1.0.0)")" -ge 2 ] || fail "d5 did not re-report 1.0.0 after the rollback"
pass "fail-boot image: panic, rollback, fail -5, still 1.0.0"
stop_dev d5

# ---- 7. faults and defects, run side by side ----------------------------------
for n in cut nores burn; do cp "$T/www/v2big.bin" "$T/www/$n.bin"; done
CLOSED_PORT=$(free_port)
start_dev e1 --bug crash-on-garbage
start_dev e2 --bug done-before-burn
start_dev e3 --bug wrong-404-code
start_dev e4 --bug progress-backwards
start_dev e5 --bug no-rollback
start_dev e6 --bug no-version-after-reboot
start_dev e7 --download-timeout 1
start_dev e8
start_dev e9
start_dev e10 --burn-ms 4000
start_dev e11 --bug no-resume
start_dev e12 --bug no-timeout --download-timeout 1
for d in e1 e2 e3 e4 e5 e6 e7 e8 e9 e10 e11 e12; do
  wait_for "$R" "$(version_re $d 1.0.0)" || fail "$d did not report 1.0.0"
done
pub_raw e1 '{"type":'
push e2 "$BASE/fw/v2.bin" $SIZE_V2 "$MD5_V2" 2.0.0
push e3 "$BASE/status/404/v2.bin" $SIZE_V2 "$MD5_V2" 2.0.0
push e4 "$BASE/fw/v2.bin" $SIZE_V2 "$MD5_V2" 2.0.0
push e5 "$BASE/fw/v2boot.bin" $SIZE_BOOT "$MD5_BOOT" 2.0.0
push e6 "$BASE/fw/v2.bin" $SIZE_V2 "$MD5_V2" 2.0.0
push e7 "$BASE/stall/100000/v2.bin" $SIZE_V2 "$MD5_V2" 2.0.0
push e8 "$BASE/every/90000/cut.bin" $SIZE_BIG "$MD5_BIG" 2.0.0
push e9 "http://127.0.0.1:$CLOSED_PORT/fw/v2.bin" $SIZE_V2 "$MD5_V2" 2.0.0
push e10 "$BASE/fw/burn.bin" $SIZE_BIG "$MD5_BIG" 2.0.0
push e11 "$BASE/slow/nores.bin" $SIZE_BIG "$MD5_BIG" 2.0.0
push e12 "$BASE/stall/100000/v2.bin" $SIZE_V2 "$MD5_V2" 2.0.0
# The two power cuts come first: they must land mid-burn and mid-download.
wait_for "$R" "$(rep e11 '.*"percent":"(2|3|4|5)0"')" 10 || fail "e11 download did not progress"
kill -9 "${DEV[e11]}"; wait "${DEV[e11]}" 2>/dev/null; unset "DEV[e11]"
wait_for "$T/e10.console" 'burning step 2/10' 15 || fail "e10 never burnt"
kill -9 "${DEV[e10]}"; wait "${DEV[e10]}" 2>/dev/null; unset "DEV[e10]"

for ((i = 0; i < 100; i++)); do kill -0 "${DEV[e1]}" 2>/dev/null || break; sleep 0.05; done
kill -0 "${DEV[e1]}" 2>/dev/null && fail "e1 (--bug crash-on-garbage) survived garbage"
wait "${DEV[e1]}"; rc=$?; unset "DEV[e1]"
[ $rc = 134 ] || fail "e1 exited $rc, expected an abort (134)"
pass "--bug crash-on-garbage aborts on garbage"

wait_for "$R" "$(state_re e2 burning)" 15 || fail "e2 never burnt"
seq2=$(dev_lines e2 | grep -oE '"state":"(done|burning)"' | tr '\n' ' ')
[[ $seq2 == '"state":"done" "state":"burning" '* ]] || fail "e2 (--bug done-before-burn): $seq2"
pass "--bug done-before-burn publishes done before burning"

wait_for "$R" "$(fail_re e3 -1)" 10 || fail "e3 (--bug wrong-404-code) did not report -1 on 404"
pass "--bug wrong-404-code reports -1 on 404"

wait_for "$R" "$(state_re e4 done)" 15 || fail "e4 did not finish"
pcts=$(dev_lines e4 | grep -oE '"percent":"[0-9]+"' | grep -oE '[0-9]+' | tr '\n' ' ')
prev=-1 down=0
for p in $pcts; do [ "$p" -lt "$prev" ] && down=1; prev=$p; done
[ $down = 1 ] || fail "e4 (--bug progress-backwards) progress never went down: $pcts"
pass "--bug progress-backwards: $pcts"

wait_for "$R" "$(version_re e5 2.0.0)" 15 || fail "e5 (--bug no-rollback) did not report the broken 2.0.0"
pass "--bug no-rollback reports the fail-boot image's version"

wait_for "$T/e6.console" 'boot slot=b version=2.0.0' 15 || fail "e6 did not boot 2.0.0"
sleep 1
[ "$(count "$R" "$(version_re e6 2.0.0)")" = 0 ] || fail "e6 (--bug no-version-after-reboot) reported 2.0.0"
pass "--bug no-version-after-reboot stays silent after the upgrade"

wait_for "$R" "$(fail_re e7 -1)" 10 || fail "e7: a stalled download did not fail with -1"
wait_for "$T/e7.console" 'download stalled' || fail "e7: no stall line"
pass "stalled download: fail -1 after --download-timeout"

wait_for "$R" "$(version_re e8 2.0.0)" 20 || fail "e8 did not finish over a cutting connection"
ncut=$(grep -c '^REQ /every/90000/cut.bin range=bytes=[1-9]' "$T/http.log")
[ "$ncut" -ge 3 ] || fail "e8: expected >= 3 resumed requests, got $ncut"
pass "connection cut every 30%: retried with Range $ncut times, upgraded"

wait_for "$R" "$(fail_re e9 -1)" 10 || fail "e9: refused connections did not end in -1"
wait_for "$T/e9.console" 'gave up after 3 attempts' || fail "e9: no give-up line"
pass "retries exhausted: fail -1 after 3 attempts"

before=$(count "$R" "$(version_re e10 1.0.0)")
start_dev e10 --burn-ms 200
for ((i = 0; i < 200; i++)); do
  [ "$(count "$R" "$(version_re e10 1.0.0)")" -gt "$before" ] && break
  sleep 0.05
done
[ "$(count "$R" "$(version_re e10 1.0.0)")" -gt "$before" ] || fail "e10 did not come back as 1.0.0 after a cut mid-burn"
push e10 "$BASE/fw/burn.bin" $SIZE_BIG "$MD5_BIG" 2.0.0
wait_for "$R" "$(version_re e10 2.0.0)" 15 || fail "e10 did not upgrade after the cut mid-burn"
wait_for "$T/e10.console" 'download complete already' || fail "e10 downloaded again instead of using its complete part file"
pass "power cut mid-burn: boots 1.0.0, then upgrades from the kept download"

start_dev e11 --bug no-resume
wait_for "$T/e11.console" 'mqtt connected' 10
sleep 0.3
push e11 "$BASE/slow/nores.bin" $SIZE_BIG "$MD5_BIG" 2.0.0
for ((i = 0; i < 100; i++)); do [ "$(count "$T/http.log" '^REQ /slow/nores.bin ')" -ge 2 ] && break; sleep 0.05; done
grep -E '^REQ /slow/nores.bin ' "$T/http.log" | grep -q 'range=bytes' && fail "e11 (--bug no-resume) sent a Range"
[ "$(count "$T/http.log" '^REQ /slow/nores.bin ')" -ge 2 ] || fail "e11 did not download again"
pass "--bug no-resume downloads from 0 after a power cut"
[ "$(count "$R" "$(state_re e12 fail)")" = 0 ] || fail "e12 (--bug no-timeout) gave up on a stall"
wait_for "$T/e12.console" 'download start' || fail "e12 did not start downloading"
stop_dev e12
pass "--bug no-timeout waits on a stall (and SIGTERM still stops it)"
for d in e2 e3 e4 e5 e6 e7 e8 e9 e10; do stop_dev $d; done

# ---- sanitizers and usage -------------------------------------------------------
if grep -lE 'AddressSanitizer|runtime error|LeakSanitizer' "$T"/*.console; then
  fail "sanitizer report in a device console"
fi
"$OTADEV" --dialect qcloud --host 127.0.0.1 >/dev/null 2>"$T/usage.err"
[ $? = 2 ] && grep -q -- '--port is required' "$T/usage.err" || fail "usage error is not exit 2 with a clear line"
pass "no sanitizer reports; usage errors exit 2"
echo "all e2e checks passed"
