-- Seed 004: "a system upgrade is triggered by reporting a version lower than
-- the cloud's". The cloud holds 2.0.0 for module default; the device's
-- report of 1.0.0 triggers the upgrade (hash_type md5); after the reboot it
-- reports 2.0.0, which triggers nothing more.
local haas = require "haas"

return {
  name = "a report lower than the cloud's version triggers the system upgrade",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = haas.attach(t)
    local target, img = d:good_image()
    d:set_cloud_version { image = img, version = target, module_name = "default", hash_type = "md5" }
    d:expect_version(t.device.version)
    d:expect_progress { step = 100 }
    d:expect_version(target, { timeout = d.boot_wait + d.step_wait })
    d:expect_version("1.0.0", { module = "app", strict = true })
  end,
}
