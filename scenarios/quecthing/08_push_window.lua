-- The platform pushes plans only inside the plan's push window (whole hours
-- in its time zone): outside it the otaRequest gets nothing; once the clock
-- is inside, the next matching pushes the plan.
local quecthing = require "quecthing"

return {
  name = "push window: no plan outside it, pushed inside it",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = quecthing.attach(t)
    local day = 20000 * 86400         -- a midnight, UTC
    d.clock = function() return day + 3 * 3600 end -- 03:00 UTC = 11:00 UTC+8
    local target, img = d:image("2.0.0")
    local p = d:activate { image = img, target_version = target, tz = 8, window = { from = 22, to = 23 } }
    d:ready()
    d:expect_no_plan(p, 0.3)
    d.clock = function() return day + 14 * 3600 + 1800 end -- 22:30 UTC+8
    t.expect(d:rematch() == 1, "the plan did not match inside its push window")
    d:expect_action(p, 1)
  end,
}
