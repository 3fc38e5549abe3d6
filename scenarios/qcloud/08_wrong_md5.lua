-- The cloud sends an MD5 that does not match the image: the device must report
-- -4, and keep running (and reporting) the version it had.
local qcloud = require "qcloud"

return {
  name = "wrong MD5 in the command: -4 and version unchanged",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    d:push_update { image = img, version = target, md5 = string.rep("0", 32) }
    d:expect_fail { code = -4 }
    d:cancel() -- the operator stops the upgrade: no re-push at the next version report
    d:power_cycle()
    d:expect_version(t.device.version, { strict = true })
  end,
}
