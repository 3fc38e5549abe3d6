-- A device reports the version it runs once it is connected after a boot
-- (seed 001, step 1: "设备上报当前版本号"), and again after every reboot: the
-- cloud learns the running version only from these reports. (After a mere
-- MQTT reconnect the seed asks nothing, and the SDK sample reports nothing.)
local qcloud = require "qcloud"

return {
  name = "version reported after boot and after a reboot",
  timeout = 30,
  requires = { "power" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version, { strict = true })
    d:power_cycle()
    d:expect_version(t.device.version, { strict = true })
  end,
}
