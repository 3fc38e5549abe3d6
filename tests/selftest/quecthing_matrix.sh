#!/bin/bash
# The quecthing suite's self-test: scenarios/quecthing against a lab of otadev
# devices (module + MCU), a correct one and one per defect (--bug NAME);
# matrix_lib.sh runs it, prints the defect x scenario matrix and asserts. This
# file is the data.
. "$(dirname "$0")/matrix_lib.sh"

# defect -> the scenario that must FAIL on it (the scenario written to catch it)
EXPECT="
accepts-low-battery     04_refuse_low_battery
ignores-source-version  06_refuse_wrong_source
ignores-confirm         03_fota_user_confirm
no-fota-result          02_fota_silent
no-md5                  10_md5_mismatch
no-resume               09_cut_resume
no-mcu-crc              12_sota_serial_corrupt
no-sota-retry           13_sota_serial_drop
no-crc32                15_sota_crc32_mismatch
no-sha256               16_sota_sha256_mismatch
crash-on-garbage        18_garbage
no-rollback             19_rollback
"

# The lab's device, with the emulated lab's timings a little tighter so
# failing cases stay short.
matrix_run quecthing 19 "$EXPECT" <<'LUA'
local function dev(name, bug)
  local cmd = { "{bindir}/drivers/emu/otadev", "--dialect", "quecthing",
                "--host", "{mqtt_host}", "--port", "{mqtt_port}",
                "--product", "{product}", "--device", "{device}",
                "--state", "{state_dir}", "--version", "{version}",
                "--boot-ms", "{boot_ms}", "--burn-ms", "{burn_ms}",
                "--download-timeout", "{download_timeout}",
                "--mcu", "STM32", "--mcu-version", "1.0.0",
                "--mcu-tty", "{mcu_tty}", "--mcu-peer-tty", "{mcu_peer_tty}" }
  if bug then cmd[#cmd + 1] = "--bug"; cmd[#cmd + 1] = bug end
  device(name) {
    dialect = "quecthing", product = "OTAHILQS01", device = name, version = "1.0.0",
    kind = "process", cmd = cmd,
    images = {
      good = { ["2.0.0"] = otadev_image { version = "2.0.0", size = 256 * 1024 },
               ["2.1.0"] = otadev_image { version = "2.1.0", size = 64 * 1024 } },
      fail_boot = { version = "2.9.0", file = otadev_image { version = "2.9.0", size = 128 * 1024, fail_boot = true } },
    },
    timing = { boot = 2, step = 4, download_timeout = 1, boot_ms = 50, burn_ms = 200 },
    modules = { STM32 = "1.0.0" },
    -- the platform never pushes a differential package for another source
    -- version (seed 000); ignores-source-version is caught when the lab asks
    -- the device to check it too
    strict = { "diff-source" },
    features = { "power", "console", "resume", "rollback", "sota" },
  }
end
LUA
