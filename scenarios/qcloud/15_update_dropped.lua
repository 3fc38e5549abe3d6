-- The update command is lost on the way (the broker link drops it). The device
-- must go on reporting its version (here after a reconnect), so the cloud sees
-- nothing changed, and upgrade when the cloud pushes again.
local qcloud = require "qcloud"

return {
  name = "update message dropped: version still reported, re-push upgrades",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local net = qcloud.net(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    net.mqtt:drop { topic = d.down, count = 1 }
    d:push_update { image = img, version = target }
    net.mqtt:reset()
    d:expect_version(t.device.version, { strict = true })
    local req = t.fw:next_request { name = img.name, timeout = 0.3 }
    t.expect(req == nil, "the device downloaded firmware it was never sent")
    net:clear()
    d:upgrade(target, img)
  end,
}
