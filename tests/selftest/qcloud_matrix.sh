#!/bin/bash
# The qcloud suite's self-test: scenarios/qcloud against a lab of otadev
# devices, a correct one and one per defect (--bug NAME); matrix_lib.sh runs
# it, prints the defect x scenario matrix and asserts. This file is the data.
. "$(dirname "$0")/matrix_lib.sh"

# defect -> the scenario that must FAIL on it (the scenario written to catch it)
EXPECT="
no-resume               03_resume_after_cut
no-persist              04_resume_after_power_cut
stale-resume            05_stale_breakpoint
no-md5                  08_wrong_md5
wrong-404-code          09_url_not_found
wrong-403-code          10_url_expired
no-timeout              11_download_stall
no-version-after-reboot 02_happy_path
no-rollback             13_rollback
done-before-burn        02_happy_path
progress-backwards      02_happy_path
crash-on-garbage        16_garbage_from_cloud
"

# The lab's device. The timings are the emulated lab's, a little tighter, so
# that failing cases (which wait out their timeouts) stay short.
matrix_run qcloud 16 "$EXPECT" <<'LUA'
local function dev(name, bug)
  local cmd = { "{bindir}/drivers/emu/otadev", "--dialect", "qcloud",
                "--host", "{mqtt_host}", "--port", "{mqtt_port}",
                "--product", "{product}", "--device", "{device}",
                "--state", "{state_dir}", "--version", "{version}",
                "--boot-ms", "{boot_ms}", "--burn-ms", "{burn_ms}",
                "--download-timeout", "{download_timeout}" }
  if bug then cmd[#cmd + 1] = "--bug"; cmd[#cmd + 1] = bug end
  device(name) {
    dialect = "qcloud", product = "OTAHILST01", device = name, version = "1.0.0",
    kind = "process", cmd = cmd,
    images = {
      good = { ["2.0.0"] = otadev_image { version = "2.0.0", size = 256 * 1024 },
               ["3.0.0"] = otadev_image { version = "3.0.0", size = 256 * 1024 } },
      fail_boot = { version = "2.9.0", file = otadev_image { version = "2.9.0", size = 128 * 1024, fail_boot = true } },
      fail_burn = { version = "2.8.0", file = otadev_image { version = "2.8.0", size = 128 * 1024, fail_burn = true } },
    },
    timing = { boot = 2.5, step = 3, download_timeout = 1, boot_ms = 50, burn_ms = 200 },
    features = { "power", "console", "resume", "rollback", "burn-check" },
  }
end
LUA
