-- The link goes silent in the middle of the download (connection still open):
-- the device must give up with -1 (download timeout) within its own download
-- timeout (timing.download_timeout in the lab), not hang forever.
local qcloud = require "qcloud"

return {
  name = "download stalls: -1 within the download timeout",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    d:stall_download(img, 4096)
    -- pushed once: the platform's re-push after -1 would only stall again
    d:push_update { image = img, version = target, repush = false }
    -- the device's own timeout, plus 2 s for connecting and reporting
    d:expect_fail { code = -1, timeout = d.download_timeout + 2 }
    d:clear_faults(img)
    d:power_cycle()
    d:expect_version(t.device.version, { strict = true })
  end,
}
