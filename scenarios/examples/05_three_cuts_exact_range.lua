-- Three breaks in one download, each at its own byte. Faults act in the order
-- they were added, each on a later response than the one before: the first
-- response breaks after 30000 body bytes, the device's retry after 10000
-- more, the next after 20000 more. Each retry must ask for exactly the byte
-- after what it had (Range: bytes=N-), and the upgrade completes with the
-- image's bytes fetched once. Each cut's handle tells when it acted.
local qcloud = require "qcloud"

return {
  name = "three cuts in a row: every retry resumes at exactly the next byte",
  dialect = "qcloud",
  timeout = 90,
  requires = { "power", "resume" },
  run = function(t)
    local http = t.net.http
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()

    local sizes = { 30000, 10000, 20000 }
    local cuts = {}
    for i, n in ipairs(sizes) do cuts[i] = http:cut { at_body_byte = n } end
    d:push_update { image = img, version = target }

    local have = 0
    for i, cut in ipairs(cuts) do
      local req = d:next_request(img)
      t.expect(req.start == have, ("request %d asked for bytes=%d-, the device had %d bytes"):format(i, req.start, have))
      local ev = cut:wait(20)
      t.expect(ev and ev.body_offset == sizes[i],
        ("cut %d did not act at body byte %d of its response"):format(i, sizes[i]))
      have = have + sizes[i]
    end
    local last = d:next_request(img)
    t.expect(last.start == have, ("the last request asked for bytes=%d-, the device had %d"):format(last.start, have))

    d:expect_progress { state = "done" }
    d:expect_version(target)
    t.expect(http:body_bytes() == img.size,
      ("%d body bytes for an image of %d: some were fetched twice"):format(http:body_bytes(), img.size))
  end,
}
