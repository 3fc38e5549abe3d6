-- Bytes are lost on the UART: the frame arrives short, the MCU drops it, and
-- the module sends it again; the MCU ends up running exactly the image.
local quecthing = require "quecthing"

return {
  name = "SOTA bytes dropped on the serial line: resent, exact image",
  timeout = 60,
  requires = { "power", "sota" },
  run = function(t)
    local d = quecthing.attach(t)
    d:ready()
    local target, img = d:image("2.1.0")
    t.serial:drop { at = 2000, count = 40 }
    local p = d:activate { image = img, target_version = target, comp_type = 1 }
    d:rematch()
    d:sota(p)
    d:expect_mcu_image(img, target)
  end,
}
