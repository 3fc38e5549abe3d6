-- The HaaS flavour of the independent Aliyun device (tests/devices/
-- aliyun_device.py --flavour haas): AliOS Things' `ota` module (seed 004) on
-- Aliyun's topics. Module "default" is the system firmware (reboot), "app" a
-- file module installed in place; downloads over HTTP only; no firmware/get
-- (the device reports its versions and the cloud pushes). tests/e2e/
-- test_pyaliyun.sh runs scenarios/haas against it.
--
-- Make the images next to this file first:
--   D=lab/examples; mkdir -p $D/fw
--   PY="/usr/bin/python3 tests/devices/aliyun_device.py mkimage"
--   $PY --version 2.0.0 --size 262144 -o $D/fw/hs-2.0.0.bin
--   $PY --version 1.1.0 --size 65536 -o $D/fw/hs-app-1.1.0.bin
--   $PY --version 2.9.0 --size 131072 --fail-boot -o $D/fw/hs-2.9.0-fail-boot.bin
--   $PY --version 2.8.0 --size 131072 --fail-burn -o $D/fw/hs-2.8.0-fail-burn.bin
-- then, from the source tree's root:
--   otahil run scenarios/haas --lab lab/examples/python-haas.lua --report out/
--
-- modules = { app = "1.0.0" } declares the file module (the suites read it);
-- --module in cmd gives it to the device.

device "py-haas" {
  dialect = "haas",
  product = "OTAHILPH01",
  device = "py-haas",
  version = "1.0.0",
  kind = "process",
  modules = { app = "1.0.0" },
  cmd = { "/usr/bin/python3", "tests/devices/aliyun_device.py", "run", "--flavour", "haas",
          "--host", "{mqtt_host}", "--port", "{mqtt_port}",
          "--product", "{product}", "--device", "{device}",
          "--state", "{state_dir}", "--version", "{version}",
          "--module", "app=1.0.0",
          "--boot-ms", "{boot_ms}", "--burn-ms", "{burn_ms}",
          "--download-timeout", "{download_timeout}",
          "--retry", "self", "--progress", "rate:{progress_interval_ms}" },
  images = {
    good = { ["2.0.0"] = "fw/hs-2.0.0.bin", ["app@1.1.0"] = "fw/hs-app-1.1.0.bin" },
    fail_boot = { version = "2.9.0", file = "fw/hs-2.9.0-fail-boot.bin" },
    fail_burn = { version = "2.8.0", file = "fw/hs-2.8.0-fail-burn.bin" },
  },
  timing = { boot = 8, step = 10, download_timeout = 3, boot_ms = 100, burn_ms = 300,
             progress_interval_ms = 500 },
  features = { "power", "console", "resume", "rollback", "burn-check", "modules" },
}
