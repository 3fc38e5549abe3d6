-- signMethod SHA256 with a sign that does not match the image (its md5 is
-- right): the device must verify the SHA-256 and report -3.
local aliyun = require "aliyun"

return {
  name = "wrong SHA-256 (signMethod SHA256): step -3, version unchanged",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = aliyun.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    d:push_update { image = img, version = target, method = "SHA256", sign = string.rep("ab", 32) }
    d:expect_fail { step = -3, version = target }
    d:power_cycle()
    d:expect_version(t.device.version, { strict = true })
  end,
}
