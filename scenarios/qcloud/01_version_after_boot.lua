-- A device reports the version it runs as soon as it is connected.
local qcloud = require "qcloud"

return {
  name = "version reported after boot",
  timeout = 30,
  requires = { "power" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version, { strict = true })
  end,
}
