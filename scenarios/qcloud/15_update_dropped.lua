-- The update command is lost on the way (the broker link drops it): the device
-- downloads nothing. When it reports its version again (at its next boot)
-- the platform sees the upgrade still pending and re-sends it (seed 001),
-- and the device upgrades.
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
    local req = t.fw:next_request { name = img.name, timeout = 0.3 }
    t.expect(req == nil, "the device downloaded firmware it was never sent")
    net:clear()
    d:power_cycle()
    d:expect_version(t.device.version, { strict = true })
    d:expect_progress { state = "burning", timeout = d.step_wait + d.download_timeout }
    d:expect_progress { state = "done" }
    d:expect_version(target)
  end,
}
