-- An independent Aliyun IoT device: tests/devices/aliyun_device.py, a Python
-- program that shares no code and no image format with otadev. Running the
-- aliyun suite against it shows the suite judges the protocol (seed 003 and
-- the vendor's documents), not our emulator. tests/e2e/test_pyaliyun.sh does
-- exactly that, in each of the device's behaviour switches:
--   --retry self | wait        after a broken HTTP download: resume by itself
--                              with Range, or report -2, keep the breakpoint
--                              and resume when the cloud sends the task again
--   --progress every | rate:MS a report on every percent change, or at most
--                              one per MS ms (the platform recommends 3 s)
--
-- A lab file cannot run programs, so make the images first, next to this file
-- (paths below are relative to the lab file's folder):
--   D=lab/examples; mkdir -p $D/fw
--   PY="/usr/bin/python3 tests/devices/aliyun_device.py mkimage"
--   $PY --version 2.0.0 --size 262144 -o $D/fw/ay-2.0.0.bin
--   $PY --version 3.0.0 --size 262144 -o $D/fw/ay-3.0.0.bin
--   $PY --version 1.1.0 --size 65536 -o $D/fw/ay-MCU-1.1.0.bin
--   $PY --version 2.9.0 --size 131072 --fail-boot -o $D/fw/ay-2.9.0-fail-boot.bin
--   $PY --version 2.8.0 --size 131072 --fail-burn -o $D/fw/ay-2.8.0-fail-burn.bin
-- then, from the source tree's root (the cmd's script path is relative to it):
--   otahil run scenarios/aliyun --lab lab/examples/python-aliyun.lua --report out/
--
-- The device has one module besides the firmware ("default"): MCU 1.0.0,
-- declared by modules = {...} (which the suites read) and given to the
-- device by --module in cmd.

device "py-aliyun" {
  dialect = "aliyun",
  product = "OTAHILPA01",
  device = "py-aliyun",
  version = "1.0.0",
  kind = "process",
  modules = { MCU = "1.0.0" },
  cmd = { "/usr/bin/python3", "tests/devices/aliyun_device.py", "run",
          "--host", "{mqtt_host}", "--port", "{mqtt_port}",
          "--product", "{product}", "--device", "{device}",
          "--state", "{state_dir}", "--version", "{version}",
          "--module", "MCU=1.0.0",
          "--boot-ms", "{boot_ms}", "--burn-ms", "{burn_ms}",
          "--download-timeout", "{download_timeout}",
          "--block-size", "{block_size}", "--block-timeout-ms", "{block_timeout_ms}",
          "--retry", "self", "--progress", "rate:{progress_interval_ms}" },
  images = {
    good = { ["2.0.0"] = "fw/ay-2.0.0.bin", ["3.0.0"] = "fw/ay-3.0.0.bin",
             ["MCU@1.1.0"] = "fw/ay-MCU-1.1.0.bin" },
    fail_boot = { version = "2.9.0", file = "fw/ay-2.9.0-fail-boot.bin" },
    fail_burn = { version = "2.8.0", file = "fw/ay-2.8.0-fail-burn.bin" },
  },
  -- seconds for the suite's waits; *_ms and block_size are the device's knobs
  -- (progress_interval_ms: its limit on progress reports, which the suite
  -- checks). Python starts slower than otadev, hence a longer boot.
  timing = { boot = 8, step = 10, download_timeout = 3, boot_ms = 100, burn_ms = 300,
             progress_interval_ms = 500, block_size = 16384, block_timeout_ms = 1000 },
  features = { "power", "console", "resume", "rollback", "burn-check", "mqtt-download",
               "firmware-get", "modules" },
}
