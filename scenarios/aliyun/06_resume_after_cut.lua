-- The HTTP download breaks a third of the way: the device resumes with
-- "Range: bytes=N-" (N > 0) and completes.
local aliyun = require "aliyun"

return {
  name = "HTTP cut: resumed with Range, upgrade completes",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local net = aliyun.net(t)
    local d = aliyun.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    net.http:cut { at_body_byte = img.size // 3, times = 1 }
    d:push_update { image = img, version = target }
    d:next_request(img)
    local again = d:next_request(img)
    t.expect(aliyun.range_start(again) > 0,
      ("after the cut the device asked Range %s, expected bytes=N- with N > 0"):format(tostring(again.range)))
    d:expect_progress { step = 100 }
    d:expect_version(target, { timeout = d.boot_wait + d.step_wait })
  end,
}
