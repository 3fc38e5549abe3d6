-- A network fault with a byte-exact wait: the proxy in front of the firmware
-- server holds the download after exactly 100000 body bytes. The scenario waits
-- for that byte, checks that not one more got through, and lets it go; the
-- device must carry on and finish (its own stall timeout is 3 s in the lab).
local qcloud = require "qcloud"

return {
  name = "download held at exactly 100000 bytes, then released: upgrade completes",
  dialect = "qcloud",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local http = t.net.http
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()

    local hold = 100000
    http:stall { after_body_byte = hold }
    d:push_update { image = img, version = target }
    t.expect(http:wait_body_bytes(hold, { timeout = 10 }),
      ("the device fetched fewer than %d bytes of the image"):format(hold))
    otahil.sleep(0.3)
    t.expect(http:body_bytes() == hold,
      ("%d body bytes went through a stall at %d"):format(http:body_bytes(), hold))

    t.net:clear() -- the held connection flows again
    d:expect_progress { state = "done" }
    d:expect_version(target)
    t.expect(http:body_bytes() == img.size,
      ("%d body bytes for an image of %d: the device fetched some twice"):format(http:body_bytes(), img.size))
  end,
}
