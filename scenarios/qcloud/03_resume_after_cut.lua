-- The connection breaks a third into the download: the device must resume with
-- "Range: bytes=N-" (N > 0) from its breakpoint instead of starting over, so the
-- bytes served add up to about one image, and the upgrade completes. A device
-- may retry by itself or, as the SDK sample does, report fail -1, report its
-- version again and wait: the platform then re-sends update_firmware (seed
-- 001, OTA断点续传) and the device resumes from its breakpoint.
local qcloud = require "qcloud"

return {
  name = "resume after a network cut: Range from the breakpoint",
  timeout = 60,
  requires = { "power", "resume" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    local cut_at = img.size // 3
    d:cut_download(img, cut_at)
    d:push_update { image = img, version = target }
    d:next_request(img)
    local again = d:next_request(img)
    t.expect(again.start > 0, ("device restarted from 0 after the cut (Range %s), expected bytes=N- with N > 0"):format(tostring(again.range)))
    d:finish_resumed(target, img)
  end,
}
