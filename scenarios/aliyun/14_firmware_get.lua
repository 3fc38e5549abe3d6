-- The device asks firmware/get after it connects (the vendor's "设备主动请求升级包
-- 信息"; seed 003 names the get_reply topic); when an upgrade is deployed for
-- it the platform answers with the firmware (same data as a push) and the
-- device upgrades without any push.
local aliyun = require "aliyun"

return {
  name = "firmware/get answered with a deployed upgrade: the device upgrades",
  timeout = 60,
  requires = { "power", "firmware-get" },
  run = function(t)
    local d = aliyun.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    d:deploy { image = img, version = target }
    d:power_cycle()
    d:wait_for(function(r) return r.kind == "get" and r.module == "default" end, d.boot_wait,
      "firmware/get of module default")
    d:expect_upgraded(target)
  end,
}
