-- Garbage triggers (malformed JSON, an MQTT stream HaaS cannot download, a
-- signMethod it does not know) are ignored: nothing is downloaded for them;
-- a good trigger still works.
local haas = require "haas"

return {
  name = "garbage triggers are ignored, a good one still works",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = haas.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    local from = otahil.cursor()
    for _, g in ipairs {
      "{\"code\": \"1000\", \"data\": {",
      json.encode { code = "1000", data = { size = img.size, version = target, dProtocol = "mqtt",
                    streamId = 1, streamFileId = 1, signMethod = "MD5", sign = img.md5 } },
      json.encode { code = "1000", data = { size = img.size, version = target, url = img.url,
                    signMethod = "CRC32", sign = "1234" } },
      "\255\0garbage",
    } do d:push_raw(g) end
    -- a device that takes the unknown signMethod downloads (and installs, unverified)
    local req = otahil.next_event({ kind = "http", stream = "fwserver", name = img.name }, { from = from, timeout = 2 })
    t.expect(req == nil, ("device '%s' downloaded %s for a garbage trigger (signMethod CRC32, sign 1234)")
      :format(d.name, img.name))
    d:trigger { image = img, version = target, module_name = "default", hash_type = "sha256" }
    d:expect_progress { step = 100 }
    d:expect_version(target, { timeout = d.boot_wait + d.step_wait })
  end,
}
