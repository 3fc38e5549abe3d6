-- The new image burns but does not boot: the bootloader rolls back, the
-- device reports a failure (a negative step) and informs the old version,
-- never the one it could not run.
local aliyun = require "aliyun"

return {
  name = "image fails to boot: rollback, failure reported, old version informed",
  timeout = 60,
  requires = { "power", "rollback" },
  run = function(t)
    local d = aliyun.attach(t)
    local old = t.device.version
    d:expect_version(old)
    local version, img = d:bad_image("fail_boot")
    d:push_update { image = img, version = version }
    local saw_version, saw_fail = false, false
    d:wait_for(function(r)
      if r.kind == "inform" and r.module == "default" then
        if r.version ~= old then
          return ("%s informed %s, which does not boot (expected a rollback to %s)"):format(d:who(), r.version, old)
        end
        saw_version = true
      elseif r.kind == "progress" and r.step < 0 then
        saw_fail = true
      end
      return saw_version and saw_fail
    end, d.boot_wait + d.step_wait + d.download_timeout, "rollback (inform " .. old .. " and a failure step)")
    d:power_cycle()
    d:expect_version(old, { strict = true })
  end,
}
