-- ota.verify with hash_type sha256 and a hash that does not match the
-- downloaded file: the upgrade stops with step -3 (verify failed) and the
-- device keeps its version.
local haas = require "haas"

return {
  name = "sha256 verification failure: step -3, version unchanged",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = haas.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    d:trigger { image = img, version = target, module_name = "default", hash_type = "sha256",
                hash = string.rep("5a", 32) }
    d:expect_fail { step = -3, version = target }
    d:power_cycle()
    d:expect_version(t.device.version, { strict = true })
  end,
}
