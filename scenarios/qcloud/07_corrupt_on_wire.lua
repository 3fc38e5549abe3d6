-- Bytes of the image are flipped on the wire: the MD5 check must catch it
-- (-4) and the device must keep the version it runs. A clean re-push succeeds.
local qcloud = require "qcloud"

return {
  name = "image corrupted on the wire: -4, then a clean push succeeds",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local net = qcloud.net(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    net.http:corrupt { body_bytes = { 1000, img.size // 2 } }
    d:push_update { image = img, version = target }
    d:expect_fail { code = -4 }
    d:cancel() -- the operator stops the upgrade: no re-push at the next version report
    net:clear()
    d:power_cycle()
    d:expect_version(t.device.version, { strict = true })
    d:upgrade(target, img)
  end,
}
