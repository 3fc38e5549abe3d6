-- The whole upgrade of the firmware over HTTP (signMethod MD5): progress
-- steps that never go back and end at 100, a reboot, the new version informed;
-- the MCU module is not touched.
local aliyun = require "aliyun"

return {
  name = "happy path over HTTP: steps to 100, new version informed",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = aliyun.attach(t)
    d:expect_informs { default = t.device.version, MCU = "1.0.0" }
    local target, img = d:good_image()
    d:upgrade(target, img)
    d:expect_version("1.0.0", { module = "MCU", strict = true })
  end,
}
