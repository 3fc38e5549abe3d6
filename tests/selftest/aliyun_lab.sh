# aliyun_lab.sh: the lab's device for the self-tests of the Aliyun-family
# suites, sourced by aliyun_matrix.sh and haas_matrix.sh (HaaS speaks Aliyun's
# topics, so the device differs only in its dialect and its module's name).

# aliyun_family_dev DIALECT MODULE: prints the Lua of dev(name, bug), otadev
# in DIALECT with one module (MODULE) besides the firmware. The timings are the
# emulated lab's, tighter, so that failing cases (which wait out their
# timeouts) stay short; the download timeout (2 s) stays above a starved
# second of a sanitizer build under load.
aliyun_family_dev() {
  echo "local DIALECT, MODULE = \"$1\", \"$2\""
  if [ "$1" = haas ]; then
    echo 'local FEATURES = { "power", "console", "resume", "rollback", "burn-check", "modules" }'
  else
    echo 'local FEATURES = { "power", "console", "resume", "rollback", "burn-check", "modules", "mqtt-download", "firmware-get" }'
  fi
  cat <<'LUA'
local function dev(name, bug)
  local cmd = { "{bindir}/drivers/emu/otadev", "--dialect", DIALECT,
                "--host", "{mqtt_host}", "--port", "{mqtt_port}",
                "--product", "{product}", "--device", "{device}",
                "--state", "{state_dir}", "--version", "{version}",
                "--boot-ms", "{boot_ms}", "--burn-ms", "{burn_ms}",
                "--download-timeout", "{download_timeout}",
                "--module", MODULE .. "=1.0.0",
                "--progress-interval-ms", "{progress_interval_ms}",
                "--block-size", "{block_size}", "--block-timeout-ms", "{block_timeout_ms}" }
  if bug then cmd[#cmd + 1] = "--bug"; cmd[#cmd + 1] = bug end
  device(name) {
    dialect = DIALECT, product = "OTAHILST02", device = name, version = "1.0.0",
    kind = "process", cmd = cmd,
    images = {
      good = { ["2.0.0"] = otadev_image { version = "2.0.0", size = 256 * 1024 },
               ["3.0.0"] = otadev_image { version = "3.0.0", size = 256 * 1024 },
               [MODULE .. "@1.1.0"] = otadev_image { version = "1.1.0", size = 64 * 1024 } },
      fail_boot = { version = "2.9.0", file = otadev_image { version = "2.9.0", size = 128 * 1024, fail_boot = true } },
      fail_burn = { version = "2.8.0", file = otadev_image { version = "2.8.0", size = 128 * 1024, fail_burn = true } },
    },
    timing = { boot = 3, step = 3, download_timeout = 2, boot_ms = 50, burn_ms = 200,
               progress_interval_ms = 400, block_size = 16384, block_timeout_ms = 1000 },
    modules = { [MODULE] = "1.0.0" },
    -- seed 003 only recommends one progress report per interval; the
    -- progress-spam defect breaks that recommendation, which a lab asks for
    strict = { "progress-rate" },
    features = FEATURES,
  }
end
LUA
}
