-- A slow download (throttled link): the device has many steps to tell. Seed
-- 003 recommends at most one progress report per 3 s (the lab's
-- timing.progress_interval_ms here): every report is checked for never going
-- back; more than the recommended rate is flagged (a warning in the log), and
-- a FAIL only for a lab that asks for the recommendation itself (strict = {
-- "progress-rate" }). A device reports some progress on a download this long,
-- and informs the new version at the end (no 100 step is required: a
-- rate-limited device may go from 80 to the new version).
local aliyun = require "aliyun"

return {
  name = "progress never backwards on a slow link, at the recommended rate if the lab asks",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local net = aliyun.net(t)
    local d = aliyun.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    -- about 4 intervals long, so that several reports are due
    local rate = math.floor(img.size / (4 * d.interval))
    net.http:throttle { rate = rate }
    d:push_update { image = img, version = target }
    local steps = 0
    d:wait_for(function(r)
      if r.kind == "progress" and r.step > 0 then steps = steps + 1 end
      if r.kind == "progress" and r.step < 0 then
        return ("%s: step %d (%s) on a slow but working link"):format(d:who(), r.step, tostring(r.desc))
      end
      return r.kind == "inform" and r.module == "default" and r.version == target
    end, d.boot_wait + d.step_wait + 4 * d.interval, "inform of the new version " .. target)
    t.expect(steps >= 2, ("only %d progress reports for a download of 4 intervals"):format(steps))
  end,
}
