#!/bin/bash
# The whole qcloud suite against an independent device (tests/devices/
# qcloud_device.py, Python, its own image format): every scenario must PASS,
# which shows the suite relies on the dialect (seed 001) and not on otadev.
# The lab is lab/examples/python-qcloud.lua, copied into a temp folder with
# the images it names made there by the device's own mkimage.
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
# the example's script path is relative to the source tree: make it absolute
sed "s|\"tests/devices/qcloud_device.py\"|\"$DEV\"|" lab/examples/python-qcloud.lua > "$WORK/lab/python-qcloud.lua"
check "the lab names the device script by its absolute path" grep -q "\"$DEV\"" "$WORK/lab/python-qcloud.lua"

"$OTAHIL" run scenarios/qcloud --lab "$WORK/lab/python-qcloud.lua" --report "$WORK/out" \
  --timeout-multiplier "$MULT" > "$WORK/run.log" 2>&1
rc=$?
grep -E '^(PASS|FAIL|ERROR|TIMEOUT|SKIP) |^        [^l]' "$WORK/run.log"
check "otahil exits 0 (all passed), got $rc" [ "$rc" -eq 0 ]
outcomes=$(outcome "$WORK/out" 'qcloud/*@py-qcloud')
n=$(echo "$outcomes" | wc -w)
check "16 scenarios ran against the Python device (got $n)" [ "$n" -eq 16 ]
bad=0
for o in $outcomes; do
  [ "$o" = PASS ] || bad=$((bad + 1))
done
check "every scenario PASSes ($bad did not)" [ "$bad" -eq 0 ]
finish
