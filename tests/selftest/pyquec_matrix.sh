#!/bin/bash
# The quecthing suite against the independent Python device (tests/devices/
# quecthing_device.py): a correct one and one per field defect (--bug NAME);
# matrix_lib.sh runs it, prints the defect x scenario matrix and asserts that
# the correct device passes everything and each defect fails the scenario
# written to catch it. The images are made by the device's own mkimage into a
# temp folder and named by absolute paths. This file is the data.
. "$(dirname "$0")/matrix_lib.sh"
: "${OTAHIL_SRC:?OTAHIL_SRC must point at the source tree}"
PY=/usr/bin/python3
DEV=$OTAHIL_SRC/tests/devices/quecthing_device.py
if ! $PY -c 'import paho.mqtt.client' 2>/dev/null; then
  echo "not ok - python3-paho-mqtt is missing"; echo "0 passed, 1 failed"; exit 1
fi

# defect -> the scenario that must FAIL on it
EXPECT="
accept-low-battery      04_refuse_low_battery
no-resume               09_cut_resume
skip-crc32              15_sota_crc32_mismatch
result-before-reboot    02_fota_silent
result-before-reboot    19_rollback
"

IMG=$(mktemp -d /tmp/otahil-pyquec-img-XXXXXX) || exit 2
mk() { $PY "$DEV" mkimage "$@" >/dev/null || { echo "not ok - mkimage $*"; rm -rf "$IMG"; exit 2; }; }
mk --version 2.0.0 --size 262144 -o "$IMG/pq-2.0.0.bin"
mk --version 2.1.0 --size 65536 -o "$IMG/pq-2.1.0.bin"
mk --version 2.9.0 --size 131072 --fail-boot -o "$IMG/pq-2.9.0-fail-boot.bin"

# matrix_run exits its shell (and sets its own EXIT trap): run it in a
# subshell so that the images are removed afterwards.
(
matrix_run quecthing 19 "$EXPECT" <<LUA
local function dev(name, bug)
  local cmd = { "$PY", "$DEV", "run",
                "--host", "{mqtt_host}", "--port", "{mqtt_port}",
                "--product", "{product}", "--device", "{device}",
                "--state", "{state_dir}", "--version", "{version}",
                "--boot-ms", "{boot_ms}", "--burn-ms", "{burn_ms}",
                "--download-timeout", "{download_timeout}",
                "--mcu", "STM32", "--mcu-version", "1.0.0",
                "--mcu-tty", "{mcu_tty}", "--mcu-peer-tty", "{mcu_peer_tty}",
                "--mcu-timeout", "{mcu_timeout}" }
  if bug then cmd[#cmd + 1] = "--bug"; cmd[#cmd + 1] = bug end
  device(name) {
    dialect = "quecthing", product = "OTAHILPS01", device = name, version = "1.0.0",
    kind = "process", cmd = cmd,
    images = {
      good = { ["2.0.0"] = "$IMG/pq-2.0.0.bin", ["2.1.0"] = "$IMG/pq-2.1.0.bin" },
      fail_boot = { version = "2.9.0", file = "$IMG/pq-2.9.0-fail-boot.bin" },
    },
    timing = { boot = 5, step = 4, download_timeout = 1, boot_ms = 50, burn_ms = 200,
               mcu_timeout = 2 },
    modules = { STM32 = "1.0.0" },
    features = { "power", "console", "resume", "rollback", "sota" },
  }
end
LUA
)
rc=$?
rm -rf "$IMG"
exit $rc
