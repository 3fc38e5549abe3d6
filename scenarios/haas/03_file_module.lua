-- A module other than default (one of the lab's modules: a file, hash_type
-- sha256): the device downloads it to its store path, verifies it and
-- installs it in place (seed 004: module "default" is the system firmware,
-- others are files); it reports the module at the new version (ota.report),
-- and after a power cycle every module at its version, the system firmware
-- untouched.
local haas = require "haas"

return {
  name = "file module upgraded in place, system firmware untouched",
  timeout = 60,
  requires = { "power", "modules" },
  run = function(t)
    local d = haas.attach(t)
    d:expect_informs()
    local m = d:first_module()
    local ver, img = d:good_image(nil, m)
    d:trigger { image = img, version = ver, module_name = m, hash_type = "sha256" }
    d:expect_upgraded(ver, { module = m })
    d:power_cycle()
    local want = d:all_modules()
    want[m] = ver
    d:expect_informs(want)
  end,
}
