-- Seed 004: "只需要向云端上报一个比云端固件版本低的版本即可触发系统固件升级". The
-- cloud's version of the system firmware is set before the device connects;
-- its ota.report of a lower version triggers the upgrade; the device
-- upgrades and reports the new version; the file module is not touched.
local haas = require "haas"

return {
  name = "a report lower than the cloud's version triggers the system upgrade",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = haas.attach(t, { power = false })
    local target, img = d:good_image()
    d:set_cloud_version { image = img, version = target, module_name = "default", hash_type = "md5" }
    d:power_on()
    d:expect_version(t.device.version)
    d:expect_upgraded(target)
    for m, v in pairs(d.modules) do d:expect_version(v, { module = m, strict = true }) end
  end,
}
