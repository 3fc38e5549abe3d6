-- A server that ignores Range (RFC 9110 lets it: it answers 200 with the
-- whole file). The download breaks at body byte 40000; the device asks to
-- resume (Range: bytes=40000-), the firmware server answers that one request
-- with 200 and the whole image. A correct device takes the 200 for what it is
-- (the file from byte 0) or finds the MD5 wrong and starts over on the
-- platform's re-push; either way it ends on the new version, never on a
-- half-appended image. Its progress starting again from 0 is no breach: the
-- library knows a 200 to a ranged request restarts the download.
local qcloud = require "qcloud"

return {
  name = "a server that ignores Range: the device still ends on the new version",
  dialect = "qcloud",
  timeout = 120,
  requires = { "power", "resume" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    t.net.http:cut { at_body_byte = 40000 }
    d:push_update { image = img, version = target }
    local first = d:next_request(img)
    t.expect(first.start == 0, ("the first request asked for bytes=%d-"):format(first.start))
    t.fw:fault(img, { ignore_range = true, times = 1 })
    local again = d:next_request(img, { timeout = d.step_wait + d.download_timeout })
    t.expect(again.start > 0, "after the cut the device did not ask to resume (no Range)")
    assert(again.status == 200, ("the server answered %s, not the 200 this scenario set up"):format(tostring(again.status)))
    d:expect_version(target, { timeout = 3 * (d.step_wait + d.download_timeout) })
  end,
}
