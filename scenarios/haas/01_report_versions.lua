-- ota.report after connecting: one inform per module, "default" (the system
-- firmware) and the file module "app", and again after a reconnect.
local haas = require "haas"

return {
  name = "ota.report of every module after boot and after a reconnect",
  timeout = 30,
  requires = { "power" },
  run = function(t)
    local d = haas.attach(t)
    d:expect_informs()
    t.net.mqtt:reset()
    d:expect_informs()
  end,
}
