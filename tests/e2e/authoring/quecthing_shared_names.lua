-- QuecThing speaks the shared vocabulary too: expect_progress{plan, state} is
-- its expect_step, expect_fail{plan, code} its expect_result with a failure.
local quecthing = require "quecthing"

return {
  name = "quecthing: expect_progress and expect_fail map onto the platform's words",
  dialect = "quecthing",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = quecthing.attach(t, { power = false })
    local target, img = d:image("2.0.0")
    local p = d:activate { image = img, target_version = target }
    d:power_on()
    local r = d:expect_progress { plan = p, state = "downloading" }
    t.expect(r.event == "otaStep" and r.step == "downloading", "expect_progress returned " .. tostring(r.event))
    d:expect_result(p, 0, { timeout = d.step_wait + d.boot_wait + d.download_timeout })
    local ok, err = pcall(d.expect_fail, d, { plan = p, code = 0 })
    t.expect(not ok and tostring(err):find("code 0 is success", 1, true), "expect_fail{code = 0}: " .. tostring(err))
  end,
}
