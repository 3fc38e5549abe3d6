-- Power is cut while the image goes to the MCU: after power on the MCU still
-- runs its old image, the plan is reported as failed (interrupted), and when
-- the platform pushes it again the upgrade completes.
local quecthing = require "quecthing"

return {
  name = "power cut during the MCU transfer: old MCU image, failure, then success",
  timeout = 60,
  requires = { "power", "sota" },
  run = function(t)
    local d = quecthing.attach(t)
    d:ready()
    local old = d.versions[d.mcu_name]
    local target, img = d:image("2.1.0")
    t.serial:drop { count = 0 } -- the transfer hangs in its retries: cut power then
    local p = d:activate { image = img, target_version = target, comp_type = 1 }
    d:rematch()
    d:expect_step(p, "transferring")
    d:power_off()
    t.serial:clear()
    t.device:power_on()
    d:expect_mcu_version(old, { strict = true })
    d:expect_result(p, -5)
    d:sota(p) -- the otaRequest after boot gets the plan again
    d:expect_mcu_image(img, target)
  end,
}
