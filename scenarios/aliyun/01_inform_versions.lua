-- After connecting the device informs the version of each of its modules
-- (seed 003: "每个需要升级的设备必要反馈给平台该设备当前的软件版本号", one message
-- per module; "default" is the whole firmware, the others are the lab's
-- modules), and again after a reboot. After a mere reconnect of its MQTT
-- connection the seed asks for nothing: Aliyun's own C SDK informs once per
-- IOT_MQTT_Construct and its automatic reconnect sends none, so the scenario
-- only checks that the device survives the reset.
local aliyun = require "aliyun"

return {
  name = "modules' versions informed after boot and after a reboot",
  timeout = 40,
  requires = { "power" },
  run = function(t)
    local d = aliyun.attach(t)
    d:expect_informs()
    t.net.mqtt:reset()
    d:power_cycle()
    d:expect_informs()
  end,
}
