-- The device floods its console for a long case, for a run ended from outside
-- (SIGTERM: otahil must stop within a couple of seconds).
return {
  name = "a flooding console for a long time",
  dialect = "qcloud",
  timeout = 120,
  run = function(t)
    t.device:power_on()
    otahil.sleep(100)
  end,
}
