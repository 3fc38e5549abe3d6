-- A fault at the source: the firmware server answers the next request for the
-- image with 404, once. The device must report -2 and must not ask again (a
-- 404 is final); both are read from the event log. It is pushed once
-- (repush = false: no task the platform would re-send at the device's next
-- version report). The fault is used up, so a new push upgrades normally.
local qcloud = require "qcloud"

return {
  name = "firmware server 404 once: -2, no retry, then a re-push upgrades",
  dialect = "qcloud",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()

    t.fw:fault(img, { status = 404, times = 1 })
    d:push_update { image = img, version = target, repush = false }
    d:expect_fail { code = -2 }

    -- the request as the firmware server answered it (an "http" event), and
    -- the log position just after it
    local req, cur = t.fw:next_request { name = img.name }
    t.expect(req and req.status == 404, "the device's request was not answered 404")
    local again = otahil.next_event({ kind = "http", stream = "fwserver", name = img.name },
                                    { from = cur, timeout = 0.5 })
    t.expect(again == nil, "the device asked again after a 404 (Range " .. tostring(again and again.range) .. ")")

    d:upgrade(target, img) -- push, downloading, burning, done, new version
  end,
}
