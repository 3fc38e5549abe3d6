-- A differential package names its source version: a device that runs
-- another version must refuse it (the platform's matching would not even
-- send it; here it is pushed on purpose).
local quecthing = require "quecthing"

return {
  name = "refusal: differential package for another source version",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = quecthing.attach(t)
    d:ready()
    local target, img = d:image("2.0.0")
    local p = d:activate { image = img, target_version = target, package = "diff", source_version = "0.9.0" }
    local ok = d:match(p)
    t.expect(not ok, "the platform matched a differential package to the wrong source version")
    d:push_plan(p)
    d:expect_action(p, 0)
    -- the right source version is accepted
    local right = d:activate { image = img, target_version = target, package = "diff", source_version = t.device.version }
    t.expect(d:rematch() == 1, "the differential package for the running version did not match")
    d:expect_action(right, 1)
  end,
}
