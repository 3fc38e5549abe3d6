-- Weak signal, then too little disk: each plan is refused with otaAction 0.
local quecthing = require "quecthing"

return {
  name = "refusal: signal below minimum, not enough disk",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = quecthing.attach(t)
    d:ready()
    local target, img = d:image("2.0.0")
    d:set_env { signal = -115 }
    local weak = d:activate { image = img, target_version = target, min_signal = -100 }
    d:rematch()
    d:expect_action(weak, 0)
    d:deactivate(weak)
    d:set_env { signal = -70, disk = img.size // 2 }
    local big = d:activate { image = img, target_version = target, disk_space = img.size }
    d:rematch()
    d:expect_action(big, 0)
  end,
}
