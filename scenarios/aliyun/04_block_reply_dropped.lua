-- A download_reply is lost on the way to the device (the proxy drops the
-- PUBLISH). The device must ask for that block again (after its block
-- timeout), not skip it and not wait for ever, and finish the upgrade.
local aliyun = require "aliyun"

return {
  name = "MQTT block reply dropped: the same block asked again, upgrade completes",
  timeout = 60,
  requires = { "power", "mqtt-download" },
  run = function(t)
    local net = aliyun.net(t)
    local d = aliyun.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    net.mqtt:drop { topic = d.t_dl_reply, count = 1 }
    local data = d:push_update { image = img, version = target, via = "mqtt" }
    d:expect_upgraded(target)
    local blocks = d:blocks(data.streamId)
    local again = false
    for i = 2, #blocks do again = again or blocks[i].offset == blocks[1].offset end
    t.expect(again, ("after the lost reply of the block at %d the device never asked for it again"):format(
      blocks[1] and blocks[1].offset or -1))
  end,
}
