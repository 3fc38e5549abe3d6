-- After boot the module reports its version and the MCU's (setMcuVer, the
-- lab's modules), and again after a reconnect: the platform matches plans on
-- those versions (seed 000). Whether it also sends otaRequest is its choice
-- (seed 000: it may wait for the platform's matching instead).
local quecthing = require "quecthing"

return {
  name = "version and MCU version after boot and after a reconnect",
  timeout = 30,
  requires = { "power" },
  run = function(t)
    local d = quecthing.attach(t)
    d:expect_version(t.device.version, { strict = true })
    if d.mcu_name then d:expect_mcu_version(d.mcu_version) end
    if t.net then t.net.mqtt:reset() else d:power_cycle() end
    d:expect_version(t.device.version, { strict = true })
  end,
}
