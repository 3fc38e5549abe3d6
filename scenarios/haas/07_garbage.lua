-- Garbage triggers (malformed JSON, an MQTT stream HaaS cannot download, a
-- bad hash_type) are ignored; a good trigger still works.
local haas = require "haas"

return {
  name = "garbage triggers are ignored, a good one still works",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = haas.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    for _, g in ipairs {
      "{\"code\": \"1000\", \"data\": {",
      json.encode { code = "1000", data = { size = img.size, version = target, dProtocol = "mqtt",
                    streamId = 1, streamFileId = 1, signMethod = "MD5", sign = img.md5 } },
      json.encode { code = "1000", data = { size = img.size, version = target, url = img.url,
                    signMethod = "CRC32", sign = "1234" } },
      "\255\0garbage",
    } do d:push_raw(g) end
    d:trigger { image = img, version = target, module_name = "default", hash_type = "sha256" }
    d:expect_progress { step = 100 }
    d:expect_version(target, { timeout = d.boot_wait + d.step_wait })
  end,
}
