-- A slow download: progress at most once per interval (the lab's
-- timing.progress_interval_ms; the platform's rule is 3 s), never backwards.
local haas = require "haas"

return {
  name = "progress at most once per interval on a slow link",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local net = haas.net(t)
    local d = haas.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    net.http:throttle { rate = math.floor(img.size / (4 * d.interval)) }
    d:trigger { image = img, version = target, module_name = "default", hash_type = "sha256" }
    d:expect_progress { step = 100, timeout = d.step_wait + 4 * d.interval }
    d:expect_version(target, { timeout = d.boot_wait + d.step_wait })
  end,
}
