-- Power is cut when half of the image has reached the device (on the wire: the
-- link stalls there). After the reboot the device reports its old version and
-- the platform re-sends the same firmware (seed 001: a pending upgrade is
-- re-pushed whenever another version is reported): the device must resume
-- from its persisted breakpoint (Range: bytes=N-, N > 0), not from zero.
local qcloud = require "qcloud"

return {
  name = "resume after a power cut at 50 % of the download",
  timeout = 60,
  requires = { "power", "resume" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    d:stall_download(img, img.size // 2)
    d:push_update { image = img, version = target }
    d:hold_reached()
    d:power_off()
    d:clear_faults(img)
    d:power_on()
    d:expect_version(t.device.version, { strict = true })
    local req = d:next_request(img) -- the first since power on, after the re-push
    t.expect(req.start > 0, ("after the power cut the device downloaded from 0 (Range %s): its breakpoint did not survive"):format(tostring(req.range)))
    d:expect_progress { state = "burning" }
    d:expect_progress { state = "done" }
    d:expect_version(target)
  end,
}
