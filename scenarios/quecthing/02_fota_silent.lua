-- A silent FOTA plan: accepted at once, received, downloading, reboot, then
-- fotaResult 0 with the target version reported (seed 000's success).
local quecthing = require "quecthing"

return {
  name = "FOTA happy path, silent upgrade",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = quecthing.attach(t, { power = false }) -- the plan is active before the device comes online
    local target, img = d:image("2.0.0")
    local p = d:activate { image = img, target_version = target }
    d:power_on()
    d:fota(p)
  end,
}
