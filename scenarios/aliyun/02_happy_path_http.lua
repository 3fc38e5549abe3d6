-- The whole upgrade of the firmware over HTTP (signMethod MD5): progress
-- steps that never go back, a reboot, the new version informed; the other
-- modules keep their versions.
local aliyun = require "aliyun"

return {
  name = "happy path over HTTP: steps never back, new version informed",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = aliyun.attach(t)
    d:expect_informs()
    local target, img = d:good_image()
    d:push_update { image = img, version = target }
    local want = d:all_modules()
    want.default = target
    d:expect_informs(want, d.boot_wait + d.step_wait + d.download_timeout)
  end,
}
