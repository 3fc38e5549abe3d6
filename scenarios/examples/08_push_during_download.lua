-- A second firmware pushed while the first downloads: the operator replaces
-- the task. Whether the device finishes the first and then takes the second
-- (the platform re-pushes it when the device reports another version, seed
-- 001) or drops the first, it must not resume the second from the first's
-- breakpoint (seed 001: it resumes only "确定为同一固件后", once it knows it is
-- the same firmware), and it ends on the second version.
local qcloud = require "qcloud"

return {
  name = "a push during a download: the new firmware from byte 0, the device ends on it",
  dialect = "qcloud",
  timeout = 150,
  requires = { "power" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local v1, img1 = d:good_image()
    local others = {}
    for v in pairs(t.device.images.good) do if v ~= v1 and v ~= t.device.version then others[#others + 1] = v end end
    table.sort(others)
    t.expect(#others > 0, "the lab declares only one good image besides the running version")
    local v2, img2 = d:good_image(others[1])
    t.net.http:throttle { rate = 64 * 1024 }
    d:push_update { image = img1, version = v1 }
    t.expect(t.net.http:wait_body_bytes(img1.size // 3, { timeout = d.step_wait }), "the first download did not get a third in")
    d:push_update { image = img2, version = v2 }
    t.net.http:clear()
    local req = d:next_request(img2, { timeout = 3 * (d.step_wait + d.download_timeout) })
    t.expect(req.start == 0, ("the new firmware's download started at byte %d: a breakpoint of %s"):format(req.start, v1))
    d:expect_version(v2, { timeout = 3 * (d.step_wait + d.download_timeout) })
  end,
}
