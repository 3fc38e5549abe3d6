-- A device that leaves processes behind, powered for a long case, for a run
-- ended from outside (kill -KILL otahil: nothing of the device may stay).
return {
  name = "a device tree in a long case",
  dialect = "qcloud",
  timeout = 120,
  run = function(t)
    t.device:power_on()
    otahil.sleep(100)
  end,
}
