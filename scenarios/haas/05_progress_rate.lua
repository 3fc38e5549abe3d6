-- A slow download (throttled link): progress never goes back (HaaS speaks
-- Aliyun's topics; seed 003's recommendation of at most one report per 3 s,
-- the lab's timing.progress_interval_ms here, is flagged by default and a
-- FAIL only with strict = { "progress-rate" }); the device informs the new
-- version at the end.
local haas = require "haas"

return {
  name = "progress never backwards on a slow link, at the recommended rate if the lab asks",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local net = haas.net(t)
    local d = haas.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    net.http:throttle { rate = math.floor(img.size / (4 * d.interval)) }
    d:trigger { image = img, version = target, module_name = "default", hash_type = "sha256" }
    d:expect_upgraded(target, { timeout = d.boot_wait + d.step_wait + 4 * d.interval })
  end,
}
