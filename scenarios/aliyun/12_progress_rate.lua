-- A slow download (throttled link): the device has many percents to tell,
-- but the platform takes at most one progress report per interval (3 s on
-- Aliyun; the lab's timing.progress_interval_ms here). Every report is
-- checked for that and for never going back; the last one says 100.
local aliyun = require "aliyun"

return {
  name = "progress at most once per interval and never backwards on a slow link",
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
      return r.kind == "progress" and r.step == 100
    end, d.step_wait + 4 * d.interval, "progress step 100")
    t.expect(steps >= 3, ("only %d progress reports for a download of 4 intervals"):format(steps))
    d:expect_version(target, { timeout = d.boot_wait + d.step_wait })
  end,
}
