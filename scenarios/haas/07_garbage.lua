-- Garbage triggers (malformed JSON, an MQTT stream HaaS cannot download, a
-- signMethod it does not know) install nothing; a good trigger still works.
local haas = require "haas"

return {
  name = "garbage triggers install nothing, a good one still works",
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
    -- Nothing in seed 004 says whether a device downloads before it looks at
    -- hash_type; what it must never do is install an image it cannot verify:
    -- so it may ignore these, or download and report a failure step, but it
    -- must not inform the target version for them.
    local req = otahil.next_event({ kind = "http", stream = "fwserver", name = img.name }, { from = from, timeout = 2 })
    if req then
      local mult = t.timeout_multiplier or 1
      local deadline = otahil.now() + (d.boot_wait + d.step_wait) * mult
      while otahil.now() < deadline do
        local r = d:next_report((deadline - otahil.now()) / mult)
        if not r or (r.kind == "progress" and r.step < 0) then break end
        t.expect(not (r.kind == "inform" and r.module == "default" and r.version == target),
          ("%s installed %s from a garbage trigger (signMethod CRC32, sign 1234): an image it could not verify")
          :format(d:who(), target))
      end
    end
    d:drain(0.5)
    d:trigger { image = img, version = target, module_name = "default", hash_type = "sha256" }
    d:expect_upgraded(target)
  end,
}
