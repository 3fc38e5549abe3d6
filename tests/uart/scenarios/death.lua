-- The device prints a death pattern while the scenario waits for something
-- else: the scenario FAILs at once with the line.
return {
  name = "a death pattern fails the scenario",
  dialect = "qcloud",
  timeout = 30,
  run = function(t)
    t.device:power_on()
    otahil.sleep(20)
  end,
}
