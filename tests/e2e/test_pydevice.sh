#!/bin/bash
# The whole qcloud suite and the examples against an independent device (tests/devices/
# qcloud_device.py, Python, its own image format): every scenario must PASS,
# which shows the suite relies on the dialect (seed 001) and not on otadev.
# The lab is lab/examples/python-qcloud.lua, copied into a temp folder with
# the images it names made there by the device's own mkimage.
#
# Real device SDKs differ where the seed leaves room, and the suite must pass
# them all, so it runs twice (about 25 s each when green):
#   self+every       the device's defaults: it retries a broken download by
#                    itself with Range, and reports every chunk up to 100 %
#   wait+rate:1000   as Tencent's SDK sample: a broken download is "fail" and
#                    the version again, resumed only when the cloud re-pushes;
#                    at most one downloading report a second, no 100 % promised
# (--retry and --progress are independent switches; the second run combines
# both non-defaults to keep CI short.)
. "$(dirname "$0")/lib.sh"
MULT=${OTAHIL_TIMEOUT_MULTIPLIER:-1}
PY=/usr/bin/python3
DEV=$OTAHIL_SRC/tests/devices/qcloud_device.py

if ! $PY -c 'import paho.mqtt.client' 2>/dev/null; then
  echo "not ok - python3-paho-mqtt is missing"; exit 1
fi
mkdir -p "$WORK/lab/fw"
mk() { $PY "$DEV" mkimage "$@" || not_ok "mkimage $*"; }
mk --version 2.0.0 --size 262144 -o "$WORK/lab/fw/qc-2.0.0.bin"
mk --version 3.0.0 --size 262144 -o "$WORK/lab/fw/qc-3.0.0.bin"
mk --version 2.9.0 --size 131072 --fail-boot -o "$WORK/lab/fw/qc-2.9.0-fail-boot.bin"
mk --version 2.8.0 --size 131072 --fail-burn -o "$WORK/lab/fw/qc-2.8.0-fail-burn.bin"

# suite NAME ARGS...: the suite against the device run with ARGS added to its cmd
suite() {
  local name=$1; shift
  local lab="$WORK/lab/python-qcloud-$name.lua" extra="" a
  for a in "$@"; do extra="$extra, \"$a\""; done
  # the example's script path is relative to the source tree: make it absolute
  sed -e "s|\"tests/devices/qcloud_device.py\"|\"$DEV\"|" \
      -e "s|\"--download-timeout\", \"{download_timeout}\" }|\"--download-timeout\", \"{download_timeout}\"$extra }|" \
      lab/examples/python-qcloud.lua > "$lab"
  check "[$name] the lab names the device script by its absolute path" grep -q "\"$DEV\"" "$lab"
  check "[$name] the lab passes $* to the device" grep -qF -- "\"{download_timeout}\"$extra }" "$lab"
  local out="$WORK/out-$name"
  "$OTAHIL" run scenarios/qcloud scenarios/examples --lab "$lab" --report "$out" \
    --timeout-multiplier "$MULT" > "$WORK/run-$name.log" 2>&1
  local rc=$?
  echo "# device $*"
  grep -E '^(PASS|FAIL|ERROR|TIMEOUT|SKIP) |^        [^l]' "$WORK/run-$name.log"
  check "[$name] otahil exits 0 (all passed), got $rc" [ "$rc" -eq 0 ]
  local outcomes n bad=0 o
  outcomes=$(outcome "$out" 'qcloud/*@py-qcloud')
  n=$(echo "$outcomes" | wc -w)
  check "[$name] 16 scenarios ran against the Python device (got $n)" [ "$n" -eq 16 ]
  for o in $outcomes; do
    [ "$o" = PASS ] || bad=$((bad + 1))
  done
  check "[$name] every scenario PASSes ($bad did not)" [ "$bad" -eq 0 ]
  # the examples are written for any qcloud device, not for otadev
  outcomes=$(outcome "$out" 'examples/*@py-qcloud' | xargs)
  n=$(ls scenarios/examples/*.lua | wc -l)
  check "[$name] every example PASSes against the Python device too ($outcomes)" \
    [ "$outcomes" = "$(printf 'PASS %.0s' $(seq "$n") | sed 's/ $//')" ]
}

suite self+every --retry self --progress every
suite wait+rate1000 --retry wait --progress rate:1000
finish
