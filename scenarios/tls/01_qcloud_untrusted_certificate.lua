-- The firmware server presents a certificate the device must not trust (expired,
-- issued for another name, or by another CA): the device must refuse it and never
-- download from it (a device that skips verification is the most common OTA
-- security bug), report the failure, and upgrade once the cloud is right again.
-- Tencent defines no code of its own for a TLS failure: a download that cannot
-- start is -1 (seed 001's result codes; the lenient reading).
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
      d:push_update { image = img, version = target, repush = false }
      d:expect_fail { code = -1, timeout = d.download_timeout * 4 + 10 }
      t.expect(t.net.http:body_bytes() == 0,
        "the device took firmware bytes from a server whose certificate is " .. cert)
      d:cancel()
    end
    t.net.http:tls_cert("server")
    d:upgrade(target, img)
  end,
}
