-- The file's MD5 does not match: fotaResult -4, and the module keeps its version.
local quecthing = require "quecthing"

return {
  name = "FOTA MD5 mismatch: -4, version unchanged",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = quecthing.attach(t, { power = false }) -- the plan is active before the device comes online
    local target, img = d:image("2.0.0")
    local p = d:activate { image = img, target_version = target, md5 = string.rep("0", 32) }
    d:power_on()
    d:expect_action(p, 1)
    d:expect_result(p, -4)
    d:deactivate(p)
    d:power_cycle()
    d:expect_version(t.device.version, { strict = true })
  end,
}
