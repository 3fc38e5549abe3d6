-- The signed URL expired a minute ago, so the server answers 403: the device
-- must report -3 (signature expired), which tells the cloud to sign again.
local qcloud = require "qcloud"

return {
  name = "signed URL expired (403): -3",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    -- pushed once: the platform's re-push (on the version report that follows a
    -- fail) would send the expired URL again, and its -3 could come after the
    -- fresh push below (a flake seen with the cases run twice under load)
    d:push_update { image = img, version = target, url = t.fw:url(img, { expires_in = -60 }), repush = false }
    d:expect_fail { code = -3 }
    -- a freshly signed URL works
    d:push_update { image = img, version = target, url = t.fw:url(img, { expires_in = 600 }) }
    d:expect_progress { state = "burning" }
    d:expect_progress { state = "done" }
    d:expect_version(target)
  end,
}
