-- The firmware URL answers 404: the device must report step -2 (download
-- failed) and keep its version.
local aliyun = require "aliyun"

return {
  name = "firmware URL 404: step -2",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = aliyun.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    t.fw:fault(img, { status = 404 })
    d:push_update { image = img, version = target }
    d:expect_fail { step = -2, version = target }
    d:power_cycle()
    d:expect_version(t.device.version, { strict = true })
  end,
}
