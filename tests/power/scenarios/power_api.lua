-- A board's power from Lua: every call waits for its driver, the state reads back.
return {
  name = "board power: on, cycle, off, state",
  dialect = "qcloud",
  requires = { "power" },
  timeout = 60,
  run = function(t)
    local d = t.device
    t.expect(d:power_state() == "off", "a case starts with the board off, not " .. d:power_state())
    t.expect(not d:is_on(), "is_on() before power_on")
    d:power_on()
    t.expect(d:is_on(), "is_on() after power_on")
    t.expect(d:power_state() == "on", "power_state() after power_on")
    local t0 = otahil.now()
    d:power_cycle { delay = 0.3 }
    t.expect(otahil.now() - t0 >= 0.3, "power_cycle kept its delay")
    t.expect(d:power_state() == "on", "power_state() after power_cycle")
    d:power_off()
    t.expect(not d:is_on() and d:power_state() == "off", "off after power_off")
    d:power_on() -- left on: the cleanup cuts it
  end,
}
