-- Black and white lists: a device on both lists is blacklisted (black wins)
-- and never gets the plan; on the whitelist alone it gets it.
local quecthing = require "quecthing"

return {
  name = "black and white lists: the blacklist wins",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = quecthing.attach(t)
    local me = t.device.device
    local target, img = d:image("2.0.0")
    local both = d:activate { image = img, target_version = target, whitelist = { me }, blacklist = { me } }
    local other = d:activate { image = img, target_version = target, whitelist = { "someone-else" } }
    d:ready()
    d:expect_no_plan(both, 0.3)
    d:expect_no_plan(other, 0.1)
    d:deactivate(both)
    d:deactivate(other)
    local white = d:activate { image = img, target_version = target, whitelist = { me }, blacklist = { "someone-else" } }
    t.expect(d:rematch() == 1, "a whitelisted device did not match the plan")
    d:expect_action(white, 1)
  end,
}
