-- A breakpoint belongs to one firmware (URL, MD5, size). After a partial
-- download of A (power cut mid-way) the operator cancels A and pushes B: the
-- device must drop A's part file and download B from byte 0; resuming B at
-- A's offset builds a corrupt image.
local qcloud = require "qcloud"

return {
  name = "stale breakpoint: another firmware starts from 0",
  timeout = 60,
  requires = { "power", "resume" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local versions = d:other_versions()
    if #versions < 2 then error("lab: device '" .. t.device.name .. "' needs two good images besides its own version", 0) end
    local va, a = d:good_image(versions[1])
    local vb, b = d:good_image(versions[2])
    d:stall_download(a, a.size // 2)
    d:push_update { image = a, version = va }
    d:hold_reached()
    d:power_off()
    d:cancel() -- the operator cancels A: no re-push of it after the reboot
    d:clear_faults(a)
    d:power_on()
    d:expect_version(t.device.version, { strict = true })
    d:push_update { image = b, version = vb }
    local req = d:next_request(b)
    t.expect(req.start == 0,
      ("firmware %s was requested with Range %s: the device resumed the breakpoint of %s"):format(vb, tostring(req.range), va))
    d:expect_progress { state = "burning" }
    d:expect_progress { state = "done" }
    d:expect_version(vb)
  end,
}
