-- A device that leaves processes behind (tests/power/tree_device.sh): its tree
-- runs when the case ends; the cleanup's power off, and otahil's exit, must
-- leave nothing of it running.
return {
  name = "a device tree at the end of a case",
  dialect = "qcloud",
  timeout = 30,
  run = function(t)
    t.device:power_on()
    local up = t.device:console_next { contains = "tree up", timeout = 10 }
    otahil.expect(up ~= nil, "the device's tree did not come up")
  end,
}
