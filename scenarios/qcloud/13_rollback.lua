-- The new image burns fine but does not boot: the bootloader must roll back to
-- the old slot, and the device must report the old version and a failure. It
-- must never report the version it could not run.
local qcloud = require "qcloud"

return {
  name = "image fails to boot: rollback, old version and a failure reported",
  timeout = 60,
  requires = { "power", "rollback" },
  run = function(t)
    local d = qcloud.attach(t)
    local old = t.device.version
    d:expect_version(old)
    local version, img = d:bad_image("fail_boot")
    d:push_update { image = img, version = version }
    d:expect_progress { state = "burning" }
    d:expect_progress { state = "done" }
    local saw_version, saw_fail = false, false
    d:wait_for(function(r)
      if r.type == "report_version" then
        if r.version ~= old then
          return ("%s reported version %s, which does not boot (expected a rollback to %s)"):format(d:who(), r.version, old)
        end
        saw_version = true
      elseif r.type == "report_progress" and r.state == "fail" then
        saw_fail = true
      end
      return saw_version and saw_fail
    end, d.boot_wait + d.step_wait, "rollback (report_version " .. old .. " and a fail report)")
    -- and it stays on the old image across a power cycle
    d:power_cycle()
    d:expect_version(old, { strict = true })
  end,
}
