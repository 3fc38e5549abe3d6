-- The HTTP download breaks a third of the way: the device resumes with
-- "Range: bytes=N-" (N > 0) and completes. It may retry by itself, or report
-- a failure step and wait for the upgrade to be pushed again (the operator
-- retries the batch; the platform does not on its own): either way its next
-- request continues from its breakpoint.
local aliyun = require "aliyun"

return {
  name = "HTTP cut: resumed with Range, upgrade completes",
  timeout = 60,
  requires = { "power", "resume" },
  run = function(t)
    local d = aliyun.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    d:cut_download(img, img.size // 3)
    local push = { image = img, version = target }
    d:push_update(push)
    d:next_request(img)
    local again = d:await_retry(img, push)
    t.expect(again.start > 0,
      ("after the cut the device asked Range %s, expected bytes=N- with N > 0"):format(tostring(again.range)))
    d:expect_upgraded(target)
  end,
}
