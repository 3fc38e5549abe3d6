-- A download_reply is lost on the way to the device (the proxy drops the
-- PUBLISH). The device must ask for the same block again after its block
-- timeout, not skip it and not wait for ever, and finish the upgrade.
local aliyun = require "aliyun"

return {
  name = "MQTT block reply dropped: the same block asked again, upgrade completes",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local net = aliyun.net(t)
    local d = aliyun.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    net.mqtt:drop { topic = d.t_dl_reply, count = 1 }
    local data = d:push_update { image = img, version = target, via = "mqtt" }
    d:expect_progress { step = 100 }
    d:expect_version(target, { timeout = d.boot_wait + d.step_wait })
    local blocks = d:blocks(data.streamId)
    t.expect(#blocks >= 2 and blocks[2].offset == blocks[1].offset,
      ("after the lost reply of block 0 the device asked for offset %s, not block 0 again"):format(
        blocks[2] and blocks[2].offset or "nothing"))
  end,
}
