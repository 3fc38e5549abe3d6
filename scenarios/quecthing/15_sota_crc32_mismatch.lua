-- sotaInfo's CRC32 does not match the file: the module must refuse to send
-- it to the MCU (-6), and the MCU keeps its version.
local quecthing = require "quecthing"

return {
  name = "SOTA CRC32 mismatch: -6, nothing sent to the MCU",
  timeout = 60,
  requires = { "power", "sota" },
  run = function(t)
    local d = quecthing.attach(t, { power = false }) -- the plan is active before the device comes online
    local target, img = d:image("2.1.0")
    local p = d:activate { image = img, target_version = target, comp_type = 1, crc32 = img.crc32 ~ 0x5a5a }
    d:power_on()
    d:expect_action(p, 1)
    d:expect_result(p, -6)
    local steps = table.concat(d:steps(p), ",")
    t.expect(not steps:find("transferring"), "the module sent an image with a wrong CRC32 to the MCU (" .. steps .. ")")
  end,
}
