-- A bad option of a power call is an error at the scenario's line (the old Lua
-- wrapper of the power methods put it at "device_power:5:").
return {
  name = "power option",
  dialect = "qcloud",
  timeout = 20,
  run = function(t)
    t.device:power_on()
    t.device:power_off { timeout = -1 }
  end,
}
