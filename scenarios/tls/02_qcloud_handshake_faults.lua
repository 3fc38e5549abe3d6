-- The TLS handshake with the firmware server stalls (the server reads the
-- ClientHello and never answers), then is cut at the ClientHello: the device
-- must give each download up (-1, within its own download timeout for the
-- stall: a device that waits forever never reports), take no body byte, and
-- upgrade once handshakes complete again. Tencent defines no TLS code: a
-- download that cannot start is -1 (seed 001's result codes; the lenient reading).
local qcloud = require "qcloud"

return {
  name = "TLS handshake stalled, then cut: -1 each time, then the upgrade",
  dialect = "qcloud",
  timeout = 120,
  requires = { "power", "tls" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    for _, mode in ipairs { "stall", "cut" } do
      t.log("the firmware server's TLS handshake: " .. mode)
      t.net.http:tls_handshake(mode)
      d:push_update { image = img, version = target, repush = false }
      -- every attempt may wait out the device's timeout, plus connecting and reporting
      d:expect_fail { code = -1, timeout = d.download_timeout * 4 + 10 }
      t.expect(t.net.http:body_bytes() == 0, "the device took firmware bytes through a TLS handshake that was " .. mode)
      d:cancel()
    end
    t.net.http:tls_handshake("ok")
    d:upgrade(target, img)
  end,
}
