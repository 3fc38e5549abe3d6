-- scenarios/tls/03_qcloud_login for Aliyun (a folder of its own: scenarios/tls
-- is Tencent's, so that it runs whole on a Tencent-only lab): the device's MQTT login signed with its device
-- secret as Aliyun IoT checks it (aliyun.login: aliyun.check_login, the lab's
-- secret; a wrong signature is refused with CONNACK 4 and FAILs here), then
-- refused on purpose for a while: let in again, it must log in again by
-- itself, without hammering the broker (cloud.Dev:refuse_logins).
local aliyun = require "aliyun"

return {
  name = "Aliyun: signed MQTT login accepted; refused, the device backs off and logs in again",
  dialect = "aliyun",
  timeout = 120,
  requires = { "power", "auth" },
  run = function(t)
    local from = t.cursor()
    local d = aliyun.attach(t)
    d:expect_login(from)
    d:expect_version(t.device.version)
    d:refuse_logins { seconds = 8, policy = aliyun.login }
  end,
}
