-- The whole upgrade: downloading (percents never go down), burning, done, and
-- the new version reported.
local qcloud = require "qcloud"

return {
  name = "happy path: upgrade, reboot, new version reported",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    d:upgrade(target, img)
  end,
}
