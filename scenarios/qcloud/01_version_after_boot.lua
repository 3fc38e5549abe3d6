-- A device reports the version it runs as soon as it is connected, and again on
-- every reconnect: the cloud learns the running version only from these reports
-- (seed 001: report_version after connecting). A reconnect is forced by cutting
-- the device's broker connection on the wire, or by a power cycle when the
-- harness has no network faults.
local qcloud = require "qcloud"

return {
  name = "version reported after boot and after a reconnect",
  timeout = 30,
  requires = { "power" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version, { strict = true })
    if t.net then
      t.net.mqtt:reset()
    else
      d:power_cycle()
    end
    d:expect_version(t.device.version, { strict = true })
  end,
}
