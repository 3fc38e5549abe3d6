-- SOTA: the module downloads the MCU's firmware, checks MD5, CRC32 and
-- SHA-256, sends it to the MCU over the UART, and reports the four steps
-- (received, downloading, transferring, done), sotaResult 0 and setMcuVer.
local quecthing = require "quecthing"

return {
  name = "SOTA happy path: four steps, MCU runs the image",
  timeout = 60,
  requires = { "power", "sota" },
  run = function(t)
    local d = quecthing.attach(t, { power = false }) -- the plan is active before the device comes online
    local target, img = d:image("2.1.0")
    local p = d:activate { image = img, target_version = target, comp_type = 1 }
    d:power_on()
    d:sota(p)
    d:expect_mcu_image(img, target)
  end,
}
