#!/bin/bash
# The qcloud suite's self-test against the independent Python device
# (tests/devices/qcloud_device.py) in the setting of Tencent's SDK sample
# (--retry wait --progress rate:1000): the correct device passes every
# scenario, and each of the device's own defects fails the scenario written
# to catch it (matrix_lib.sh asserts both). The images are the device's own
# format, made by its mkimage.
. "$(dirname "$0")/matrix_lib.sh"
DEV=$OTAHIL_SRC/tests/devices/qcloud_device.py
IMG=$(mktemp -d /tmp/otahil-pyqcloud-img-XXXXXX) || exit 2
trap 'rm -rf "$IMG"' EXIT
mk() { /usr/bin/python3 "$DEV" mkimage "$@" > /dev/null || exit 2; }
mk --version 2.0.0 --size 262144 -o "$IMG/2.0.0.bin"
mk --version 3.0.0 --size 262144 -o "$IMG/3.0.0.bin"
mk --version 2.9.0 --size 131072 --fail-boot -o "$IMG/2.9.0.bin"
mk --version 2.8.0 --size 131072 --fail-burn -o "$IMG/2.8.0.bin"

# defect -> the scenario that must FAIL on it
EXPECT="
resume-percent-of-remainder 03_resume_after_cut
repush-restarts             04_resume_after_power_cut
"
{
  echo "local DEV, IMG = \"$DEV\", \"$IMG\""
  cat <<'LUA'
local function dev(name, bug)
  local cmd = { "/usr/bin/python3", DEV, "run",
                "--host", "{mqtt_host}", "--port", "{mqtt_port}",
                "--product", "{product}", "--device", "{device}",
                "--state", "{state_dir}", "--version", "{version}",
                "--boot-ms", "{boot_ms}", "--burn-ms", "{burn_ms}",
                "--download-timeout", "{download_timeout}",
                "--retry", "wait", "--progress", "rate:1000" }
  if bug then cmd[#cmd + 1] = "--bug"; cmd[#cmd + 1] = bug end
  device(name) {
    dialect = "qcloud", product = "OTAHILPY02", device = name, version = "1.0.0",
    kind = "process", cmd = cmd,
    images = {
      good = { ["2.0.0"] = IMG .. "/2.0.0.bin", ["3.0.0"] = IMG .. "/3.0.0.bin" },
      fail_boot = { version = "2.9.0", file = IMG .. "/2.9.0.bin" },
      fail_burn = { version = "2.8.0", file = IMG .. "/2.8.0.bin" },
    },
    timing = { boot = 8, step = 10, download_timeout = 3, boot_ms = 100, burn_ms = 300 },
    features = { "power", "console", "resume", "rollback", "burn-check" },
  }
end
LUA
} | matrix_run qcloud 16 "$EXPECT"
