-- The firmware URL answers 404: the device must report -2 (file does not
-- exist), not a generic download failure, and keep its version.
local qcloud = require "qcloud"

return {
  name = "firmware URL 404: -2",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    t.fw:fault(img, { status = 404 })
    d:push_update { image = img, version = target }
    d:expect_fail { code = -2 }
    d:cancel() -- the operator stops the upgrade: no re-push at the next version report
    d:power_cycle()
    d:expect_version(t.device.version, { strict = true })
  end,
}
