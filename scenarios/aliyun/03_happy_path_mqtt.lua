-- The firmware comes over MQTT in blocks (dProtocol mqtt, signMethod SHA256):
-- the device asks for blocks of 256..131072 bytes inside the file (seed 003),
-- covering all of it, verifies the SHA-256, reboots and informs the new
-- version; it never fetches over HTTP what was announced as a stream.
local aliyun = require "aliyun"

return {
  name = "happy path over MQTT blocks: contiguous blocks, SHA-256, new version",
  timeout = 60,
  requires = { "power", "mqtt-download" },
  run = function(t)
    local d = aliyun.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    local data = d:push_update { image = img, version = target, via = "mqtt" }
    d:expect_upgraded(target)
    local covered = 0
    for _, b in ipairs(d:blocks(data.streamId)) do covered = math.max(covered, b.offset + b.size) end
    t.expect(covered == img.size, ("the blocks asked for cover %d of %d bytes"):format(covered, img.size))
    local req = t.fw:next_request { name = img.name, timeout = 0.1 }
    t.expect(req == nil, "the device fetched over HTTP an image sent as an MQTT stream")
  end,
}
