-- A scenario that relaxes a library rule for itself: the device's progress
-- goes backwards (otadev --bug progress-backwards stands in for a device the
-- scenario provokes), the scenario allows "progress-backwards", the upgrade
-- passes and the log shows both the relaxation and the breach.
local qcloud = require "qcloud"

return {
  name = "d:allow{...} relaxes a rule, and the log says so",
  dialect = "qcloud",
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    d:allow { "progress-backwards" }
    d:upgrade(d:good_image())
    local ev = otahil.next_event({ kind = "rule.allowed", rule = "progress-backwards" }, { from = 0, timeout = 0.1 })
    if not ev then otahil.fail("no rule.allowed event: the device never went backwards?") end
  end,
}
