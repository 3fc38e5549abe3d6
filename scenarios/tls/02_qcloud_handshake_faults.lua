-- The TLS handshake with the firmware server stalls (the server reads the
-- ClientHello and never answers), then is cut at the ClientHello: the device
-- must give each download up (report fail within its own download timeout for
-- the stall: a device that waits forever never reports), take no body byte,
-- and upgrade once handshakes complete again. Tencent defines no code for a TLS
-- failure (seed 001's five result codes name none), so any of them is correct:
-- Tencent's own SDK sample reports -5 (更新固件失败) for a stalled handshake, otadev -1.
local qcloud = require "qcloud"

return {
  name = "TLS handshake stalled, then cut: a failure each time, then the upgrade",
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
      -- the platform re-pushes while the task is pending (seed 001): a device that
      -- reports its version again after the failure is asked again, as by the cloud
      d:push_update { image = img, version = target }
      -- every attempt may wait out the device's timeout, plus connecting and reporting
      d:expect_fail { code = "any", timeout = d.download_timeout * 4 + 10 }
      t.expect(t.net.http:body_bytes() == 0, "the device took firmware bytes through a TLS handshake that was " .. mode)
      d:cancel()
    end
    t.net.http:tls_handshake("ok")
    d:upgrade(target, img)
  end,
}
