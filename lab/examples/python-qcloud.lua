-- An independent Tencent (qcloud) device: tests/devices/qcloud_device.py, a
-- Python program that shares no code and no image format with otadev. Running
-- the qcloud suite against it shows the suite tests the dialect (seed 001), not
-- our emulator. tests/e2e/test_pydevice.sh does exactly that.
--
-- A lab file cannot run programs, so make the images first, next to this file
-- (paths below are relative to the lab file's folder):
--   D=lab/examples; mkdir -p $D/fw
--   PY="/usr/bin/python3 tests/devices/qcloud_device.py mkimage"
--   $PY --version 2.0.0 --size 262144 -o $D/fw/qc-2.0.0.bin
--   $PY --version 3.0.0 --size 262144 -o $D/fw/qc-3.0.0.bin
--   $PY --version 2.9.0 --size 131072 --fail-boot -o $D/fw/qc-2.9.0-fail-boot.bin
--   $PY --version 2.8.0 --size 131072 --fail-burn -o $D/fw/qc-2.8.0-fail-burn.bin
-- then, from the source tree's root (the cmd's script path is relative to it):
--   otahil run scenarios/qcloud --lab lab/examples/python-qcloud.lua --report out/
--
-- Behaviour switches (append to cmd; see qcloud_device.py run --help):
-- "--retry", "wait" (a broken download is fail -1 and a re-report of the
-- version, resumed with Range only on the cloud's re-push, as the Tencent SDK
-- sample does; default "self": it retries by itself), "--progress", "rate:1000"
-- (at most one downloading report a second, no 100 % promised; default
-- "every"), "--bug", NAME (a defect on purpose), "--ca", "{ca_file}" with the
-- device's tls = true (MQTT over TLS and https downloads, docs/tls.md),
-- "--secret", "{secret}" with the device's auth = "platform" and a secret (its
-- MQTT login signed as Tencent's SDK signs it). tests/e2e/test_pydevice.sh
-- runs the suite with the defaults and with wait + rate:1000.

device "py-qcloud" {
  dialect = "qcloud",
  product = "OTAHILPY01",
  device = "py-qcloud",
  version = "1.0.0",
  kind = "process",
  cmd = { "/usr/bin/python3", "tests/devices/qcloud_device.py", "run",
          "--host", "{mqtt_host}", "--port", "{mqtt_port}",
          "--product", "{product}", "--device", "{device}",
          "--state", "{state_dir}", "--version", "{version}",
          "--boot-ms", "{boot_ms}", "--burn-ms", "{burn_ms}",
          "--download-timeout", "{download_timeout}" },
  images = {
    good = { ["2.0.0"] = "fw/qc-2.0.0.bin", ["3.0.0"] = "fw/qc-3.0.0.bin" },
    fail_boot = { version = "2.9.0", file = "fw/qc-2.9.0-fail-boot.bin" },
    fail_burn = { version = "2.8.0", file = "fw/qc-2.8.0-fail-burn.bin" },
  },
  -- seconds for the suite's waits; *_ms are the device's own knobs. Python
  -- starts slower than otadev, hence a longer boot.
  timing = { boot = 8, step = 10, download_timeout = 3, boot_ms = 100, burn_ms = 300 },
  -- qcloud_device.py's console: the start of a burn, and its boot line
  lines = { burning = "ota: burning version", boot = "boot: running version ([0-9.]+) from slot" },
  features = { "power", "console", "console-lines", "resume", "rollback", "burn-check" },
}
