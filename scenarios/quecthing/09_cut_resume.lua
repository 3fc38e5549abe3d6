-- The download is cut a third of the way: the module must resume with
-- Range: bytes=N- (N > 0) and finish the upgrade. It may retry by itself, or
-- report the failure and wait: the platform's next matching (seed 000: every
-- 10 minutes; here the scenario says that time has passed) pushes the plan
-- again, and the module resumes from its breakpoint.
local quecthing = require "quecthing"

return {
  name = "FOTA download cut: resumed from the breakpoint",
  timeout = 60,
  requires = { "power", "resume" },
  run = function(t)
    local d = quecthing.attach(t, { power = false }) -- the plan is active before the device comes online
    local target, img = d:image("2.0.0")
    d:cut_download(img, img.size // 3)
    local p = d:activate { image = img, target_version = target }
    d:power_on()
    d:expect_action(p, 1)
    d:next_request(img)
    local again = d:await_retry(p)
    t.expect(again.start > 0, ("the device restarted from 0 after the cut (Range %s)"):format(tostring(again.range)))
    d:expect_result(p, 0, { timeout = d.step_wait + d.boot_wait + d.download_timeout })
  end,
}
