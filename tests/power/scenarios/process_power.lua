-- A process device through the same methods: cycle restarts the process.
return {
  name = "process power: cycle and state",
  dialect = "qcloud",
  timeout = 30,
  run = function(t)
    local d = t.device
    t.expect(d:power_state() == "off", "process device starts off")
    d:power_on()
    t.expect(d:power_state() == "on" and d:is_on(), "process on")
    local first = d:console_next { contains = "booted", timeout = 10 }
    t.expect(first, "the first boot printed its line")
    d:power_cycle { delay = 0.2 }
    local again = d:console_next { contains = "booted", timeout = 10 }
    t.expect(again, "power_cycle booted the process again")
    d:power_off()
    t.expect(d:power_state() == "off", "process off")
  end,
}
