-- A user-confirmed plan: the device must wait for the user's confirmation
-- (userConfirm from the app through the cloud) before it answers otaAction(1).
local quecthing = require "quecthing"

return {
  name = "FOTA user-confirmed: nothing before the user confirms",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = quecthing.attach(t, { power = false }) -- the plan is active before the device comes online
    local target, img = d:image("2.0.0")
    local p = d:activate { image = img, target_version = target, mode = "confirm" }
    d:power_on()
    d:ready()
    -- observe fails at once if the device accepts before the confirmation
    d:expect_no_answer(p, 0.5)
    d:confirm(p, 1)
    d:fota(p)
  end,
}
