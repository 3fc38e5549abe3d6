-- The device's MQTT login, signed with its device secret as Tencent IoT Hub
-- checks it (the lab's auth = "platform": the device's MQTT proxy holds each
-- CONNECT and qcloud.login decides, with qcloud.check_login and the lab's
-- secret). A device whose signature is wrong is refused (CONNACK 4) and FAILs
-- here. Then the platform refuses the device on purpose for a while (CONNACK 5,
-- not authorized, as for a disabled device); let in again, it must log in
-- again by itself, and meanwhile it should not hammer the broker
-- (cloud.Dev:refuse_logins: a gap under 1 s between two CONNECTs is a warning,
-- a FAIL with strict = { "login-backoff" }; the rules' sources are there and in
-- docs/verdicts.md). A version report after the reconnect is not asked.
local qcloud = require "qcloud"

return {
  name = "signed MQTT login accepted; refused, the device backs off and logs in again",
  dialect = "qcloud",
  timeout = 120,
  requires = { "power", "auth" },
  run = function(t)
    local from = t.cursor()
    local d = qcloud.attach(t)
    d:expect_login(from)
    d:expect_version(t.device.version)
    d:refuse_logins { seconds = 8, policy = qcloud.login }
  end,
}
