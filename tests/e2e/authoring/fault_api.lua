-- The fault API as it reads (issue 16): a handle that tells when its fault acted,
-- "fault" events only for acting, reset() at once even with a clear() after it.
local qcloud = require "qcloud"

return {
  name = "fault handles, fault events, reset at once",
  dialect = "qcloud",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local http, mqtt = t.net.http, t.net.mqtt
    local quiet = mqtt:drop { topic = "nobody/+" }
    t.expect(otahil.next_event({ kind = "fault", stream = t.device.name .. "/mqtt" }, { timeout = 0 }) == nil,
      "adding a fault logged a \"fault\" event: only acting may")
    t.expect(not quiet:fired(), "a fault that never acted says it fired")
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    local h = http:stall { after_body_byte = 1000 }
    t.expect(type(h.id) == "number", "a fault's handle has its id")
    d:push_update { image = img, version = target }
    local ev = h:wait(10)
    t.expect(ev and ev.action == "stall" and ev.body_offset == 1000, "the stall's handle did not see it act")
    local fired, n = h:fired()
    t.expect(fired and n == 1, "fired() after the stall: " .. tostring(fired) .. " " .. tostring(n))
    local from = otahil.cursor()
    http:reset()
    http:clear() -- the same step: it cannot undo a reset done already
    t.expect(otahil.next_event({ kind = "fault", fault = "reset", action = "rst" }, { from = from, timeout = 0 }),
      "reset() did not reset the open connection at once")
    d:expect_progress { state = "done" }
    d:expect_version(target)
    t.expect(http:body_bytes() <= img.size + 1000,
      ("%d body bytes counted for an image of %d"):format(http:body_bytes(), img.size))
  end,
}
