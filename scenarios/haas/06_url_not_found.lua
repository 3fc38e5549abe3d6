-- ota.download of a URL that answers 404: step -2 (download failed).
local haas = require "haas"

return {
  name = "download URL 404: step -2",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = haas.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    t.fw:fault(img, { status = 404 })
    d:trigger { image = img, version = target, module_name = "default" }
    d:expect_fail { step = -2, version = target }
  end,
}
