-- Bytes of one download_reply are flipped on the way. The block's CRC16 (or
-- its framing) no longer matches: the device must ask for that block again
-- and complete with an intact image. A device that keeps the bad block ends
-- with a SHA-256 mismatch (-3), which FAILs here too.
local aliyun = require "aliyun"

return {
  name = "MQTT block corrupted on the wire: asked again, upgrade completes",
  timeout = 60,
  requires = { "power", "mqtt-download" },
  run = function(t)
    local net = aliyun.net(t)
    local d = aliyun.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    -- two bytes of the block's data (the reply's header, a 2-byte length and a
    -- short JSON text, ends long before): only the CRC16 can tell
    net.mqtt:corrupt_publish { topic = d.t_dl_reply, count = 1, at = { 1000, 1500 } }
    local data = d:push_update { image = img, version = target, via = "mqtt" }
    d:expect_upgraded(target)
    local blocks = d:blocks(data.streamId)
    local again = false
    for i = 2, #blocks do again = again or blocks[i].offset == blocks[1].offset end
    t.expect(again, "the device did not ask again for the block whose reply was corrupted")
  end,
}
