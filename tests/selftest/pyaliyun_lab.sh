# pyaliyun_lab.sh: the lab's device for the self-tests of the Aliyun-family
# suites against the independent Python device (tests/devices/aliyun_device.py),
# sourced by pyaliyun_matrix.sh and pyhaas_matrix.sh. The images are the
# device's own format, made by its mkimage into a temp folder that the lab
# names by absolute paths.

PYAY_PY=/usr/bin/python3
# PYAY_DEVICE may name another build of the device (e.g. one being debugged)
PYAY_DEV=${PYAY_DEVICE:-$OTAHIL_SRC/tests/devices/aliyun_device.py}

# pyaliyun_images DIR MODULE: makes the images the lab names into DIR.
pyaliyun_images() {
  local d=$1 m=$2
  mkdir -p "$d" || return 1
  "$PYAY_PY" -c 'import paho.mqtt.client' 2>/dev/null || { echo "# no python3-paho-mqtt"; return 1; }
  "$PYAY_PY" "$PYAY_DEV" mkimage --version 2.0.0 --size 262144 -o "$d/2.0.0.bin" >/dev/null &&
  "$PYAY_PY" "$PYAY_DEV" mkimage --version 3.0.0 --size 262144 -o "$d/3.0.0.bin" >/dev/null &&
  "$PYAY_PY" "$PYAY_DEV" mkimage --version 1.1.0 --size 65536 -o "$d/$m-1.1.0.bin" >/dev/null &&
  "$PYAY_PY" "$PYAY_DEV" mkimage --version 2.9.0 --size 131072 --fail-boot -o "$d/2.9.0-fail-boot.bin" >/dev/null &&
  "$PYAY_PY" "$PYAY_DEV" mkimage --version 2.8.0 --size 131072 --fail-burn -o "$d/2.8.0-fail-burn.bin" >/dev/null
}

# pyaliyun_family_dev FLAVOUR DIALECT MODULE DIR: prints the Lua of dev(name,
# bug): the Python device in FLAVOUR with one module (MODULE) besides the
# firmware, images in DIR. Its settings: --retry self, --progress rate at the
# lab's progress_interval_ms (tests/e2e/test_pyaliyun.sh runs the others).
# Timings as tight as Python allows, so that failing cases stay short.
pyaliyun_family_dev() {
  printf 'local FLAVOUR, DIALECT, MODULE, IMG, PY, DEV = "%s", "%s", "%s", "%s", "%s", "%s"\n' \
    "$1" "$2" "$3" "$4" "$PYAY_PY" "$PYAY_DEV"
  if [ "$1" = haas ]; then
    echo 'local FEATURES = { "power", "console", "resume", "rollback", "burn-check", "modules" }'
  else
    echo 'local FEATURES = { "power", "console", "resume", "rollback", "burn-check", "modules", "mqtt-download", "firmware-get" }'
  fi
  cat <<'LUA'
local function dev(name, bug)
  local cmd = { PY, DEV, "run", "--flavour", FLAVOUR,
                "--host", "{mqtt_host}", "--port", "{mqtt_port}",
                "--product", "{product}", "--device", "{device}",
                "--state", "{state_dir}", "--version", "{version}",
                "--module", MODULE .. "=1.0.0",
                "--boot-ms", "{boot_ms}", "--burn-ms", "{burn_ms}",
                "--download-timeout", "{download_timeout}",
                "--block-size", "{block_size}", "--block-timeout-ms", "{block_timeout_ms}",
                "--retry", "self", "--progress", "rate:{progress_interval_ms}" }
  if bug then cmd[#cmd + 1] = "--bug"; cmd[#cmd + 1] = bug end
  device(name) {
    dialect = DIALECT, product = "OTAHILPY02", device = "py-" .. name, version = "1.0.0",
    kind = "process", cmd = cmd,
    images = {
      good = { ["2.0.0"] = IMG .. "/2.0.0.bin", ["3.0.0"] = IMG .. "/3.0.0.bin",
               [MODULE .. "@1.1.0"] = IMG .. "/" .. MODULE .. "-1.1.0.bin" },
      fail_boot = { version = "2.9.0", file = IMG .. "/2.9.0-fail-boot.bin" },
      fail_burn = { version = "2.8.0", file = IMG .. "/2.8.0-fail-burn.bin" },
    },
    timing = { boot = 5, step = 4, download_timeout = 2, boot_ms = 50, burn_ms = 200,
               progress_interval_ms = 400, block_size = 16384, block_timeout_ms = 1000 },
    modules = { [MODULE] = "1.0.0" },
    features = FEATURES,
  }
end
LUA
}
