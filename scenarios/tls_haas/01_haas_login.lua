-- The MQTT login of a HaaS device (a folder of its own, as tls_aliyun: scenarios/haas
-- stays the same for every lab). A HaaS device connects to Aliyun IoT with its
-- productKey, deviceName and deviceSecret (seed 004: aliyunIoT_Device.connect(key_info)),
-- so it signs in as Aliyun's devices do and haas.login is aliyun.login (the lab's
-- secret; a wrong signature is refused with CONNACK 4 and FAILs here). Signed in, it
-- informs every module (ota.report); refused on purpose for a while, then let in
-- again, it must log in again by itself without hammering the broker
-- (cloud.Dev:refuse_logins), and inform its modules once more.
local haas = require "haas"

return {
  name = "HaaS: signed MQTT login accepted, every module informed; refused, it backs off and logs in again",
  dialect = "haas",
  timeout = 120,
  requires = { "power", "auth" },
  run = function(t)
    local from = t.cursor()
    local d = haas.attach(t)
    d:expect_login(from)
    d:expect_informs()
    d:refuse_logins { seconds = 8, policy = haas.login }
    d:expect_informs()
  end,
}
