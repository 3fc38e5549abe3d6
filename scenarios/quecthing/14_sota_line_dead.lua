-- The UART to the MCU carries nothing any more: the module must give up
-- with sotaResult -8 (not hang, not claim success) and the MCU keeps its version.
local quecthing = require "quecthing"

return {
  name = "SOTA serial line dead: -8, MCU version unchanged",
  timeout = 60,
  requires = { "power", "sota" },
  run = function(t)
    local d = quecthing.attach(t)
    d:ready()
    local old = d.mcu_version
    local target, img = d:image("2.1.0")
    t.serial:drop { count = 0 }
    local p = d:activate { image = img, target_version = target, comp_type = 1 }
    d:rematch()
    d:expect_step(p, "transferring")
    d:expect_result(p, -8, { timeout = d.step_wait * 2 })
    d:deactivate(p)
    t.serial:clear()
    d:power_cycle()
    d:expect_mcu_version(old, { strict = true })
  end,
}
