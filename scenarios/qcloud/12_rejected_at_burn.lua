-- The image downloads and passes MD5, but the device rejects it when burning
-- (not its format, or its flash refuses it): -5, and it keeps its version.
local qcloud = require "qcloud"

return {
  name = "image rejected at burn: -5, version unchanged",
  timeout = 60,
  requires = { "power", "burn-check" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local version, img = d:bad_image("fail_burn")
    d:push_update { image = img, version = version }
    d:expect_fail { code = -5 }
    d:cancel() -- the operator stops the upgrade: no re-push at the next version report
    d:power_cycle()
    d:expect_version(t.device.version, { strict = true })
  end,
}
