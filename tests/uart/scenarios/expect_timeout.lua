-- An expectation the console never meets: FAIL with the pattern, the last lines
-- seen and the log path.
return {
  name = "uart expect times out",
  dialect = "qcloud",
  timeout = 30,
  run = function(t)
    t.device:power_on()
    t.device.uart:expect("login: ", { plain = true })
    t.device.uart:expect("never printed", { timeout = 1 })
  end,
}
