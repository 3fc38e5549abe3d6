-- A weak link: the connection drops every 64 KiB, the rate is low and the
-- latency high. The device must keep resuming and finish within the deadline.
local qcloud = require "qcloud"

return {
  name = "weak network: flapping, throttled, slow link still completes",
  timeout = 120,
  requires = { "power", "resume" },
  run = function(t)
    local net = qcloud.net(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    net.http:flap { every = 64 * 1024 }
    net.http:throttle { rate = 256 * 1024 }
    net.http:latency { ms = 50, jitter = 10 }
    d:push_update { image = img, version = target }
    -- the seed gives no time for a weak link, and each reconnect costs what the
    -- device's own loop costs (Tencent's SDK sample: fail, report_version, the
    -- re-push, a ranged request: ~6 s; otadev: well under 1 s). So no budget of
    -- ours per reconnect: the device must keep reporting, at least once per its
    -- step time, resume each download beyond the furthest byte so far within
    -- two step times (seed 001, 断点续传: a device that restarts from 0 never
    -- gets past the first cut), and reach burning within 100 s
    local furthest, advanced, cur = 0, otahil.now(), otahil.cursor()
    local window = 2 * d.step_wait
    d:wait_for(function(r)
      cur = d:download_starts(img, cur, function(start)
        if start > furthest then furthest, advanced = start, otahil.now() end
      end)
      if r.type == "report_progress" and r.state == "burning" then return true end
      if r.type == "report_progress" and r.state == "fail" and not d:retryable(r) then
        return ("%s: upgrade failed with result_code %s on the weak link"):format(d:who(), tostring(r.code))
      end
      if otahil.now() - advanced > window * t.timeout_multiplier then
        return ("%s: no download resumed beyond byte %d for %gs: each reconnect must go on where "
                .. "the last one ended (seed 001, 断点续传)"):format(d:who(), furthest, window)
      end
      return false
    end, 100, "progress state burning", 1, d.step_wait)
    d:expect_progress { state = "done" }
    d:expect_version(target)
  end,
}
