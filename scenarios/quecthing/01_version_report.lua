-- After boot the module reports its version, the MCU's version (setMcuVer)
-- and asks for plans (otaRequest); again after a reconnect.
local quecthing = require "quecthing"

return {
  name = "version, MCU version and otaRequest after boot and after a reconnect",
  timeout = 30,
  requires = { "power" },
  run = function(t)
    local d = quecthing.attach(t)
    d:expect_version(t.device.version, { strict = true })
    if d.mcu_name then d:expect_mcu_version("1.0.0") end
    d:wait_for(function(r) return r.event == "otaRequest" end, d.boot_wait, "otaRequest")
    if t.net then t.net.mqtt:reset() else d:power_cycle() end
    d:expect_version(t.device.version, { strict = true })
  end,
}
