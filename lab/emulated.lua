-- The emulated lab: one otadev process per dialect, on this machine.
-- CI and the README's first command run the standard suites against it.
-- Placeholders in cmd: {bindir} (where otahil is), {mqtt_host} {mqtt_port}
-- {http_host} {http_port} {product} {device} {version} {state_dir} {name},
-- and every timing knob ({boot_ms}, {download_timeout}, ...); with tls = true
-- also {ca_file} (and {mqtt_scheme} / {http_scheme}: mqtts / https).
-- features: what each device can do (scenarios/lib/catalogue.lua); a
-- scenario that requires one a device lacks is SKIP for it.

device "emu-qcloud" {
  dialect = "qcloud",
  product = "OTAHILQC01",
  device = "emu-qcloud",
  version = "1.0.0",
  kind = "process",
  cmd = { "{bindir}/drivers/emu/otadev", "--dialect", "qcloud",
          "--host", "{mqtt_host}", "--port", "{mqtt_port}",
          "--product", "{product}", "--device", "{device}",
          "--state", "{state_dir}", "--version", "{version}",
          "--boot-ms", "{boot_ms}", "--burn-ms", "{burn_ms}",
          "--download-timeout", "{download_timeout}" },
  images = {
    good = { ["2.0.0"] = otadev_image { version = "2.0.0", size = 256 * 1024 },
             ["3.0.0"] = otadev_image { version = "3.0.0", size = 256 * 1024 } },
    fail_boot = { version = "2.9.0", file = otadev_image { version = "2.9.0", size = 128 * 1024, fail_boot = true } },
    fail_burn = { version = "2.8.0", file = otadev_image { version = "2.8.0", size = 128 * 1024, fail_burn = true } },
  },
  -- seconds for the suite's waits; *_ms are the emulator's own knobs
  timing = { boot = 5, step = 10, download_timeout = 3, boot_ms = 100, burn_ms = 300 },
  -- otadev's console: the first burn step, and its boot line (version captured)
  lines = { burning = "burning step 1/", boot = "boot slot=[a-z] version=([0-9.]+)" },
  features = { "power", "console", "console-lines", "resume", "rollback", "burn-check" },
}

-- Aliyun IoT (seed 003): modules "default" (the firmware) and "MCU"; images
-- keyed "MCU@1.1.0" belong to the MCU module. progress_interval_ms is the
-- device's limit on progress reports (the platform's rule is 3 s; shorter
-- here so the suite stays fast) and the suite checks it.
device "emu-aliyun" {
  dialect = "aliyun",
  product = "OTAHILAY01",
  device = "emu-aliyun",
  version = "1.0.0",
  kind = "process",
  cmd = { "{bindir}/drivers/emu/otadev", "--dialect", "aliyun",
          "--host", "{mqtt_host}", "--port", "{mqtt_port}",
          "--product", "{product}", "--device", "{device}",
          "--state", "{state_dir}", "--version", "{version}",
          "--boot-ms", "{boot_ms}", "--burn-ms", "{burn_ms}",
          "--download-timeout", "{download_timeout}",
          "--module", "MCU=1.0.0",
          "--progress-interval-ms", "{progress_interval_ms}",
          "--block-size", "{block_size}", "--block-timeout-ms", "{block_timeout_ms}" },
  images = {
    good = { ["2.0.0"] = otadev_image { version = "2.0.0", size = 256 * 1024 },
             ["3.0.0"] = otadev_image { version = "3.0.0", size = 256 * 1024 },
             ["MCU@1.1.0"] = otadev_image { version = "1.1.0", size = 64 * 1024 } },
    fail_boot = { version = "2.9.0", file = otadev_image { version = "2.9.0", size = 128 * 1024, fail_boot = true } },
    fail_burn = { version = "2.8.0", file = otadev_image { version = "2.8.0", size = 128 * 1024, fail_burn = true } },
  },
  timing = { boot = 5, step = 10, download_timeout = 3, boot_ms = 100, burn_ms = 300,
             progress_interval_ms = 500, block_size = 16384, block_timeout_ms = 1000 },
  modules = { MCU = "1.0.0" },
  features = { "power", "console", "resume", "rollback", "burn-check", "mqtt-download",
               "firmware-get", "modules" },
}

-- AliOS Things HaaS (seed 004) over Aliyun's topics: module "default" is the
-- system firmware, "app" a file module (images "app@1.1.0").
device "emu-haas" {
  dialect = "haas",
  product = "OTAHILHS01",
  device = "emu-haas",
  version = "1.0.0",
  kind = "process",
  cmd = { "{bindir}/drivers/emu/otadev", "--dialect", "haas",
          "--host", "{mqtt_host}", "--port", "{mqtt_port}",
          "--product", "{product}", "--device", "{device}",
          "--state", "{state_dir}", "--version", "{version}",
          "--boot-ms", "{boot_ms}", "--burn-ms", "{burn_ms}",
          "--download-timeout", "{download_timeout}",
          "--module", "app=1.0.0",
          "--progress-interval-ms", "{progress_interval_ms}" },
  images = {
    good = { ["2.0.0"] = otadev_image { version = "2.0.0", size = 256 * 1024 },
             ["app@1.1.0"] = otadev_image { version = "1.1.0", size = 64 * 1024 } },
    fail_boot = { version = "2.9.0", file = otadev_image { version = "2.9.0", size = 128 * 1024, fail_boot = true } },
    fail_burn = { version = "2.8.0", file = otadev_image { version = "2.8.0", size = 128 * 1024, fail_burn = true } },
  },
  timing = { boot = 5, step = 10, download_timeout = 3, boot_ms = 100, burn_ms = 300,
             progress_interval_ms = 500 },
  modules = { app = "1.0.0" },
  features = { "power", "console", "resume", "rollback", "burn-check", "modules" },
}

-- Quectel QuecThing (FOTA and SOTA): the module is otadev; its MCU (otamcu,
-- started by otadev) sits behind a serial line that the harness relays with
-- faults ({mcu_tty} is the module's end, {mcu_peer_tty} the MCU's). 2.0.0 is
-- a module image, 2.1.0 an MCU image (scenarios name them).
device "emu-quecthing" {
  dialect = "quecthing",
  product = "OTAHILQT01",
  device = "emu-quecthing",
  version = "1.0.0",
  kind = "process",
  cmd = { "{bindir}/drivers/emu/otadev", "--dialect", "quecthing",
          "--host", "{mqtt_host}", "--port", "{mqtt_port}",
          "--product", "{product}", "--device", "{device}",
          "--state", "{state_dir}", "--version", "{version}",
          "--boot-ms", "{boot_ms}", "--burn-ms", "{burn_ms}",
          "--download-timeout", "{download_timeout}",
          "--mcu", "STM32", "--mcu-version", "1.0.0",
          "--mcu-tty", "{mcu_tty}", "--mcu-peer-tty", "{mcu_peer_tty}" },
  images = {
    good = { ["2.0.0"] = otadev_image { version = "2.0.0", size = 256 * 1024 },
             ["2.1.0"] = otadev_image { version = "2.1.0", size = 64 * 1024 } },
    -- a module image that burns but never boots (the rollback scenario)
    fail_boot = { version = "2.9.0", file = otadev_image { version = "2.9.0", size = 128 * 1024, fail_boot = true } },
  },
  timing = { boot = 5, step = 10, download_timeout = 3, boot_ms = 100, burn_ms = 300 },
  modules = { STM32 = "1.0.0" },
  features = { "power", "console", "resume", "rollback", "sota" },
}
