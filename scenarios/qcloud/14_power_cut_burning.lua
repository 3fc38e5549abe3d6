-- Power is cut as soon as the device says "burning". It must come back on one
-- consistent image and report it: the old version (then the platform's
-- re-push, done not being reported yet, upgrades it), or the new one. Never
-- bricked, never a version it does not run.
local qcloud = require "qcloud"

return {
  name = "power cut while burning: one consistent image, never bricked",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = qcloud.attach(t)
    local old = t.device.version
    d:expect_version(old)
    local target, img = d:good_image()
    d:push_update { image = img, version = target }
    d:expect_progress { state = "burning" }
    d:power_off()
    d:power_on()
    local v = d:next_version()
    t.expect(v == old or v == target, ("after the power cut the device reported %s, neither %s nor %s"):format(v, old, target))
    if v == old then
      -- the platform re-pushed on that report; the whole image may still be in
      -- the device's breakpoint: no download report needed
      d:expect_progress { state = "burning" }
      d:expect_progress { state = "done" }
      d:expect_version(target)
    end
    -- whatever it says must survive another reboot
    d:power_cycle()
    d:expect_version(target, { strict = true })
  end,
}
