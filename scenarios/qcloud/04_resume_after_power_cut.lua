-- Power is cut when half of the image is on the device. After the reboot the
-- cloud pushes the same firmware again: the device must resume from its
-- persisted breakpoint (Range: bytes=N-, N > 0), not download from zero.
local qcloud = require "qcloud"

return {
  name = "resume after a power cut at 50 % of the download",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    d:stall_download(img, img.size // 2)
    d:push_update { image = img, version = target }
    d:hold_reached()
    d:power_off()
    d:clear_faults(img)
    t.device:power_on()
    d:expect_version(t.device.version, { strict = true })
    d:push_update { image = img, version = target }
    local req = d:next_request(img)
    local from = qcloud.range_start(req)
    t.expect(from > 0, ("after the power cut the device downloaded from 0 (Range %s): its breakpoint did not survive"):format(tostring(req.range)))
    d:expect_progress { state = "burning" }
    d:expect_progress { state = "done" }
    d:expect_version(target)
  end,
}
