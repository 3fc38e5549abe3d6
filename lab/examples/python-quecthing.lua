-- An independent Quectel QuecThing device: tests/devices/quecthing_device.py,
-- a Python module (FOTA) that starts its own Python MCU (SOTA) behind the
-- serial line otahil relays ({mcu_tty} is the module's end, {mcu_peer_tty}
-- the MCU's). It shares no code, image format or serial framing with otadev
-- and otamcu. Running the quecthing suite against it shows the suite judges
-- the protocol (seeds 000 and 002), not our emulator; tests/e2e/
-- test_pyquec.sh does exactly that, in both --retry and --progress settings.
--
-- A lab file cannot run programs, so make the images first, next to this file
-- (paths below are relative to the lab file's folder):
--   D=lab/examples; mkdir -p $D/fw
--   PY="/usr/bin/python3 tests/devices/quecthing_device.py mkimage"
--   $PY --version 2.0.0 --size 262144 -o $D/fw/pq-2.0.0.bin
--   $PY --version 2.1.0 --size 65536 -o $D/fw/pq-2.1.0.bin
--   $PY --version 2.9.0 --size 131072 --fail-boot -o $D/fw/pq-2.9.0-fail-boot.bin
-- then, from the source tree's root (the cmd's script path is relative to it):
--   otahil run scenarios/quecthing --lab lab/examples/python-quecthing.lua --report out/
--
-- Behaviour switches (real SDKs differ; a suite must pass both): --retry self
-- (a broken download is resumed by the device itself, with Range) or wait
-- (it reports -1, keeps the breakpoint and resumes when the plan comes
-- again); --progress every or rate:MS (at most one percent report per MS ms);
-- --request on-connect (otaRequest after connecting) or never (the device
-- waits for the platform's matching).

device "py-quecthing" {
  dialect = "quecthing",
  product = "OTAHILPQ01",
  device = "py-quecthing",
  version = "1.0.0",
  kind = "process",
  cmd = { "/usr/bin/python3", "tests/devices/quecthing_device.py", "run",
          "--host", "{mqtt_host}", "--port", "{mqtt_port}",
          "--product", "{product}", "--device", "{device}",
          "--state", "{state_dir}", "--version", "{version}",
          "--boot-ms", "{boot_ms}", "--burn-ms", "{burn_ms}",
          "--download-timeout", "{download_timeout}",
          "--mcu", "STM32", "--mcu-version", "1.0.0",
          "--mcu-tty", "{mcu_tty}", "--mcu-peer-tty", "{mcu_peer_tty}",
          "--mcu-timeout", "{mcu_timeout}",
          "--retry", "self", "--progress", "every", "--request", "on-connect" },
  -- the MCU's name and factory version: the suites read modules, the device
  -- is told by --mcu and --mcu-version in cmd
  modules = { STM32 = "1.0.0" },
  images = {
    good = { ["2.0.0"] = "fw/pq-2.0.0.bin", ["2.1.0"] = "fw/pq-2.1.0.bin" },
    -- a module image that burns but never boots (the rollback scenario)
    fail_boot = { version = "2.9.0", file = "fw/pq-2.9.0-fail-boot.bin" },
  },
  -- seconds for the suite's waits; *_ms and mcu_timeout are the device's own
  -- knobs. Python starts slower than otadev, hence a longer boot.
  timing = { boot = 8, step = 10, download_timeout = 3, boot_ms = 100, burn_ms = 300,
             mcu_timeout = 3 },
  features = { "power", "console", "resume", "rollback", "sota" },
}
