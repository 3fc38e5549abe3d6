-- Two modules upgraded independently: one of the lab's modules first (no
-- reboot of the firmware needed; its new version informed, seed 003: a
-- module reports its own version), then the firmware (the module keeps its
-- new version across the reboot).
local aliyun = require "aliyun"

return {
  name = "modules default and another module upgraded independently",
  timeout = 60,
  requires = { "power", "modules" },
  run = function(t)
    local d = aliyun.attach(t)
    d:expect_informs()
    local m = d:first_module()
    local mver, mimg = d:good_image(nil, m)
    d:upgrade(mver, mimg, { module = m })
    local target, img = d:good_image()
    d:push_update { image = img, version = target }
    local want = { default = target, [m] = mver }
    d:expect_informs(want, d.boot_wait + d.step_wait + d.download_timeout)
    d:power_cycle()
    d:expect_informs(want)
  end,
}
