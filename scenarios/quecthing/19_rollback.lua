-- A FOTA image that burns fine but does not boot: the bootloader must roll
-- back to the old slot, and once connected again the device reports its old
-- version and a failure result for the plan (seed 000: the result follows the
-- reboot; -5 "update failed" in the dialect's codes). It must never report
-- the version it could not run.
local quecthing = require "quecthing"

return {
  name = "FOTA image fails to boot: rollback, old version and fotaResult -5",
  timeout = 60,
  requires = { "power", "rollback" },
  run = function(t)
    local d = quecthing.attach(t, { power = false }) -- the plan is active before the device comes online
    local old = t.device.version
    local bad = assert((t.device.images or {}).fail_boot, "lab: the device declares no images.fail_boot")
    local p = d:activate { image = t.fw:serve(bad.file), target_version = bad.version }
    d:power_on()
    d:expect_action(p, 1)
    -- the next version report is the one after the reboot: the old one, only
    d:expect_version(old, { strict = true, timeout = d.step_wait + d.boot_wait + d.download_timeout })
    d:expect_result(p, "failure")
    d:deactivate(p) -- the operator stops the plan; the platform would push it again
    -- and it stays on the old image across a power cycle
    d:power_cycle()
    d:expect_version(old, { strict = true })
  end,
}
