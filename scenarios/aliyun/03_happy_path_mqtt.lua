-- The firmware comes over MQTT in blocks (dProtocol mqtt, signMethod SHA256):
-- the device asks block after block without gap or overlap (the cloud FAILs
-- at once on one), each 256..131072 bytes, verifies the SHA-256, reboots and
-- informs the new version.
local aliyun = require "aliyun"

return {
  name = "happy path over MQTT blocks: contiguous blocks, SHA-256, new version",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = aliyun.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    local data = d:push_update { image = img, version = target, via = "mqtt" }
    d:expect_progress { step = 100 }
    d:expect_version(target, { timeout = d.boot_wait + d.step_wait })
    local covered = 0
    for _, b in ipairs(d:blocks(data.streamId)) do covered = math.max(covered, b.offset + b.size) end
    t.expect(covered == img.size, ("the blocks asked for cover %d of %d bytes"):format(covered, img.size))
    local req = t.fw:next_request { name = img.name, timeout = 0.1 }
    t.expect(req == nil, "the device fetched over HTTP an image sent as an MQTT stream")
  end,
}
