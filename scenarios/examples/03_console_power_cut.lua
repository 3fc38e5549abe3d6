-- Power is cut on a console line: the moment the device prints that it burns
-- (the lab's lines.burning: each firmware says it its own way). After power on, the console says which image it booted: the old one
-- (the burn never ended) or, if the cut came late, the new one; never another.
-- The version it then reports over MQTT must be the one it booted. If it is
-- the old one, the cloud pushes again and the upgrade completes.
local qcloud = require "qcloud"

return {
  name = "power cut at a console line mid-burn: boots one whole image, says so, upgrades",
  dialect = "qcloud",
  timeout = 60,
  requires = { "power", "console", "console-lines" },
  run = function(t)
    local uart, lines = t.device.uart, t.device.lines
    assert(lines.burning and lines.boot, "lab: device '" .. t.device.name .. "' names no lines.burning and lines.boot")
    local d = qcloud.attach(t)
    local old = t.device.version
    d:expect_version(old)
    local target, img = d:good_image()
    d:push_update { image = img, version = target }

    uart:expect(lines.burning, { timeout = 20 })
    d:power_off()
    uart:skip() -- what came before the cut is not the next boot
    t.device:power_on()

    local _, booted = uart:expect(lines.boot)
    otahil.log("booted", { version = booted })
    t.expect(booted == old or booted == target,
      ("after a cut mid-burn the device booted %s, neither %s nor %s"):format(booted, old, target))
    local reported = d:next_version()
    t.expect(reported == booted, ("the console says %s booted, MQTT reports %s"):format(booted, reported))

    if booted == old then
      -- the whole image may still be in its breakpoint: no download report needed
      d:push_update { image = img, version = target }
      d:expect_progress { state = "done" }
      d:expect_version(target)
    end
  end,
}
