-- The image downloads and verifies but the device rejects it when burning:
-- step -4 (burn failed), version unchanged.
local aliyun = require "aliyun"

return {
  name = "image rejected at burn: step -4, version unchanged",
  timeout = 60,
  requires = { "power", "burn-check" },
  run = function(t)
    local d = aliyun.attach(t)
    d:expect_version(t.device.version)
    local version, img = d:bad_image("fail_burn")
    d:push_update { image = img, version = version }
    d:expect_fail { step = -4, version = version }
    d:power_cycle()
    d:expect_version(t.device.version, { strict = true })
  end,
}
