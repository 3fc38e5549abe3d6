-- A relay that refuses: the call raises with the scenario's line, device and driver.
return {
  name = "board power: a failing driver is an ERROR at the caller's line",
  dialect = "qcloud",
  timeout = 30,
  run = function(t)
    t.device:power_on()
  end,
}
