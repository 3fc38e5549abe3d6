-- The cloud (or anything on the topic) sends garbage: malformed JSON, missing
-- fields, wrong types, a huge payload, binary bytes. The device must survive
-- each one (no crash; it may ignore it or answer it with a fail report: seed
-- 001 does not say which) and still upgrade on a good push.
local qcloud = require "qcloud"

return {
  name = "garbage from the cloud is ignored, a good push still works",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    local garbage = {
      "{\"type\": \"update_firmware\", \"url\": ",
      "not json at all",
      "{\"type\": \"update_firmware\"}",
      "{\"type\": \"update_firmware\", \"version\": \"" .. target .. "\"}",
      json.encode { type = "update_firmware", file_size = "big", md5sum = 5, url = { 1 }, version = { x = 1 } },
      "[1, 2, 3]",
      "{\"type\": \"" .. string.rep("A", 256 * 1024) .. "\"}",
      "\0\1\2\255\254{}}}",
    }
    for _, g in ipairs(garbage) do d:push_raw(g) end
    d:drain(1) -- whatever it answers to the garbage (still checked)
    d:upgrade(target, img)
  end,
}
