-- The cloud's md5 (signMethod MD5) does not match the image: the device must
-- report step -3 (verify failed) and keep running, and informing, its version.
local aliyun = require "aliyun"

return {
  name = "wrong MD5: step -3, version unchanged",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = aliyun.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    d:push_update { image = img, version = target, md5 = string.rep("0", 32) }
    d:expect_fail { step = -3, version = target }
    d:power_cycle()
    d:expect_version(t.device.version, { strict = true })
  end,
}
