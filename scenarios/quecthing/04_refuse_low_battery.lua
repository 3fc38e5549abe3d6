-- The battery is below the plan's minimum: the device refuses (otaAction 0)
-- and downloads nothing; charged again, it accepts.
local quecthing = require "quecthing"

return {
  name = "refusal: battery below the plan's minimum",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = quecthing.attach(t)
    d:ready()
    d:set_env { battery = 15 }
    local target, img = d:image("2.0.0")
    local p = d:activate { image = img, target_version = target, min_battery = 30 }
    d:rematch()
    d:expect_action(p, 0)
    t.expect(t.fw:next_request { name = img.name, timeout = 0.3 } == nil, "the device downloaded a plan it refused")
    d:set_env { battery = 90 }
    d:rematch()
    d:expect_action(p, 1)
  end,
}
