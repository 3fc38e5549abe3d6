-- sotaInfo's SHA-256 does not match the file: -7, nothing sent to the MCU.
local quecthing = require "quecthing"

return {
  name = "SOTA SHA-256 mismatch: -7, nothing sent to the MCU",
  timeout = 60,
  requires = { "power", "sota" },
  run = function(t)
    local d = quecthing.attach(t, { power = false }) -- the plan is active before the device comes online
    local target, img = d:image("2.1.0")
    local p = d:activate { image = img, target_version = target, comp_type = 1, sha256 = string.rep("ab", 32) }
    d:power_on()
    d:expect_action(p, 1)
    d:expect_result(p, -7)
    local steps = table.concat(d:steps(p), ",")
    t.expect(not steps:find("transferring"), "the module sent an image with a wrong SHA-256 to the MCU (" .. steps .. ")")
  end,
}
