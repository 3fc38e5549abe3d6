-- The firmware server presents a certificate the device must not trust (expired,
-- issued for another name, or by another CA): the device must refuse it and never
-- download from it (a device that skips verification is the most common OTA
-- security bug), report the failure, and upgrade once the cloud is right again.
-- Tencent defines no code for a TLS failure (seed 001's five result codes name
-- none), so any of them is a correct report: Tencent's own SDK sample reports
-- -5 (更新固件失败) for a refused certificate and a stalled handshake, otadev -1.
-- Beside the qcloud suite (not in it), so the suite is the same for every lab;
-- a device without the feature "tls" gets SKIP.
local qcloud = require "qcloud"

return {
  name = "untrusted TLS certificate: refused, nothing downloaded, then the upgrade",
  dialect = "qcloud",
  timeout = 90,
  requires = { "power", "tls" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    for _, cert in ipairs { "expired", "wrong-name", "untrusted" } do
      t.log("the firmware server presents the " .. cert .. " certificate")
      t.net.http:tls_cert(cert)
      -- the platform re-pushes while the task is pending (seed 001): a device that
      -- reports its version again after the failure is asked again, as by the cloud
      d:push_update { image = img, version = target }
      d:expect_fail { code = "any", timeout = d.download_timeout * 4 + 10 }
      t.expect(t.net.http:body_bytes() == 0,
        "the device took firmware bytes from a server whose certificate is " .. cert)
      d:cancel()
    end
    t.net.http:tls_cert("server")
    d:upgrade(target, img)
  end,
}
