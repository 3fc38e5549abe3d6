-- The device floods its console; the case waits longer than its deadline: it
-- must end TIMEOUT at the deadline, not when the flood stops.
return {
  name = "a flooding console: the deadline wins",
  dialect = "qcloud",
  timeout = 3,
  run = function(t)
    t.device:power_on()
    otahil.sleep(100)
  end,
}
