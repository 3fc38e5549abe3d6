-- The emulated lab: one otadev process per dialect, on this machine.
-- CI and the README's first command run the standard suites against it.
-- Placeholders in cmd: {bindir} (where otahil is), {mqtt_host} {mqtt_port}
-- {http_host} {http_port} {product} {device} {version} {state_dir} {name},
-- and every timing knob ({boot_ms}, {download_timeout}, ...).

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
  features = { "power", "console" },
}
