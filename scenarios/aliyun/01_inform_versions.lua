-- After connecting the device informs the version of each of its modules
-- ("default", the firmware, and "MCU"), one message per module (the
-- platform's rule), and asks firmware/get whether an upgrade waits; it does so
-- again after a reconnect. With nothing deployed the cloud answers an empty
-- data, which changes nothing.
local aliyun = require "aliyun"

return {
  name = "modules' versions informed after boot and after a reconnect",
  timeout = 30,
  requires = { "power" },
  run = function(t)
    local d = aliyun.attach(t)
    d:expect_informs { default = t.device.version, MCU = "1.0.0" }
    d:wait_for(function(r) return r.kind == "get" and r.module == "default" end, d.boot_wait,
      "firmware/get of module default")
    t.net.mqtt:reset()
    d:expect_informs { default = t.device.version, MCU = "1.0.0" }
  end,
}
