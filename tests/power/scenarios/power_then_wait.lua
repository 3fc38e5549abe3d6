-- Powers the board and waits (for Ctrl-C and the deadline).
return {
  name = "board power: on, then a long wait",
  dialect = "qcloud",
  timeout = 2,
  run = function(t)
    t.device:power_on()
    otahil.sleep(100)
  end,
}
