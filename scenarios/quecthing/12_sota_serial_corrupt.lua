-- Bytes of the image are corrupted on the UART between module and MCU: the
-- MCU must notice (CRC32 per frame) and the module send the frame again, so
-- the MCU ends up running exactly the image.
local quecthing = require "quecthing"

return {
  name = "SOTA bytes corrupted on the serial line: detected, resent, exact image",
  timeout = 60,
  requires = { "power", "sota" },
  run = function(t)
    local d = quecthing.attach(t)
    d:ready()
    local target, img = d:image("2.1.0")
    t.serial:corrupt { bytes = { 1000, 3000, 9000 } }
    local p = d:activate { image = img, target_version = target, comp_type = 1 }
    d:rematch()
    d:sota(p)
    local f = otahil.next_event({ kind = "fault", stream = t.device.name .. "/serial", action = "corrupt" }, { timeout = 0 })
    t.expect(f ~= nil, "no byte was corrupted on the serial line (the fault never applied)")
    d:expect_mcu_image(img, target)
  end,
}
