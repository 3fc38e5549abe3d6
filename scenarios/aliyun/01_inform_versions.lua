-- After connecting the device informs the version of each of its modules
-- (seed 003: "每个需要升级的设备必要反馈给平台该设备当前的软件版本号", one message
-- per module; "default" is the whole firmware, the others are the lab's
-- modules), and again after a reconnect.
local aliyun = require "aliyun"

return {
  name = "modules' versions informed after boot and after a reconnect",
  timeout = 30,
  requires = { "power" },
  run = function(t)
    local d = aliyun.attach(t)
    d:expect_informs()
    t.net.mqtt:reset()
    d:expect_informs()
  end,
}
