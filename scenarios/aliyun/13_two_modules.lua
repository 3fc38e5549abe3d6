-- Two modules upgraded independently: the MCU module first (no reboot of the
-- firmware, its new version informed while the firmware keeps its own), then
-- the firmware (the MCU keeps its new version across the reboot).
local aliyun = require "aliyun"

return {
  name = "modules default and MCU upgraded independently",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = aliyun.attach(t)
    d:expect_informs { default = t.device.version, MCU = "1.0.0" }
    local mver, mimg = d:good_image(nil, "MCU")
    d:push_update { image = mimg, version = mver, module = "MCU" }
    d:expect_progress { step = 100, module = "MCU" }
    d:expect_informs { default = t.device.version, MCU = mver }
    local target, img = d:good_image()
    d:upgrade(target, img, { via = "mqtt" })
    d:expect_version(mver, { module = "MCU", strict = true })
    d:power_cycle()
    d:expect_informs { default = target, MCU = mver }
  end,
}
