-- A module other than default (the file module "app", hash_type sha256): the
-- device downloads it to its store path, verifies it and installs it without
-- rebooting; it reports app at the new version while the system firmware
-- keeps its own.
local haas = require "haas"

return {
  name = "file module app upgraded in place, system firmware untouched",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = haas.attach(t)
    d:expect_informs { default = t.device.version, app = "1.0.0" }
    local ver, img = d:good_image(nil, "app")
    d:trigger { image = img, version = ver, module_name = "app", hash_type = "sha256" }
    d:expect_progress { step = 100, module = "app" }
    d:expect_informs { default = t.device.version, app = ver }
    d:power_cycle()
    d:expect_informs { default = t.device.version, app = ver }
  end,
}
