-- Every line the board writes arrives, in order, even across a console gap
-- (the port went away and came back mid-stream). Used by e2e_uart.sh.
return {
  name = "every board line arrives through the console",
  dialect = "qcloud",
  timeout = 60,
  run = function(t)
    t.device:power_on()
    local u = t.device.uart
    local n = t.device.timing.lines
    for i = 1, n do
      u:expect(string.format("line %04d\r\n", i), { plain = true, timeout = 15 })
    end
    u:expect("^done\r?$", { timeout = 15 })
  end,
}
