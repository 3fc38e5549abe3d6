-- Garbage on every downlink topic: malformed JSON, wrong types, a huge
-- payload, binary bytes, a download_reply nobody asked for. The device must
-- survive each (no crash; it may ignore it, or answer an upgrade it cannot use
-- with a failure step, e.g. -2 for an unusable URL) and still upgrade on a
-- good push.
local aliyun = require "aliyun"

return {
  name = "garbage from the cloud is ignored, a good push still works",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = aliyun.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    local garbage = {
      "{\"code\": \"1000\", \"data\": ",
      "not json at all",
      "{\"code\": \"1000\", \"data\": {\"version\": \"9.9.9\"}}",
      json.encode { code = "1000", data = { size = "big", version = { 1 }, url = 5, signMethod = "CRC" } },
      json.encode { code = "1000", data = { size = 10, version = "9.9.9", url = "ftp://x", md5 = string.rep("0", 32) } },
      json.encode { code = "1000", data = { size = 10, version = "9.9.9", dProtocol = "mqtt", md5 = string.rep("0", 32) } },
      "[1, 2, 3]",
      "{\"code\": \"" .. string.rep("A", 64 * 1024) .. "\"}",
      "\0\1\2\255\254{}}}",
    }
    for _, g in ipairs(garbage) do d:push_raw(g) end
    d:push_raw("{\"code\":200,\"data\":{\"size\":", "get_reply")
    d:push_raw("\0\5{}", "download_reply")
    d:push_raw(string.pack(">s2", "{\"code\":200,\"data\":{\"bSize\":4,\"bOffset\":0}}") .. "abcd\0\0", "download_reply")
    d:drain(1) -- whatever it answers to the garbage (still checked)
    d:push_update { image = img, version = target }
    d:expect_upgraded(target)
  end,
}
