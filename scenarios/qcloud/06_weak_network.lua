-- A weak link: the connection drops every 64 KiB, the rate is low and the
-- latency high. The device must keep resuming and finish within the deadline.
local qcloud = require "qcloud"

return {
  name = "weak network: flapping, throttled, slow link still completes",
  timeout = 90,
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
    -- at the throttled rate the image takes size/rate seconds, plus one
    -- reconnect per 64 KiB; each step still within the device's step time
    local budget = img.size / (256 * 1024) + (img.size // (64 * 1024) + 1) * 0.5 + d.step_wait
    d:expect_progress { state = "burning", timeout = budget }
    d:expect_progress { state = "done" }
    d:expect_version(target)
  end,
}
