-- A boot watched on the console, for the test of a port that vanishes and
-- returns mid-boot (test_rack.sh arms that on the board): every line arrives,
-- and the case ends only once the board is up and its console quiet, so the
-- saved console can be compared with what the board printed.
local qcloud = require "qcloud"

return {
  name = "every console line of a boot arrives",
  dialect = "qcloud",
  timeout = 30,
  requires = { "power", "console" },
  run = function(t)
    local u = t.device.uart
    local d = qcloud.attach(t)
    u:expect("boot slot=a version=" .. t.device.version, { plain = true, timeout = 10 })
    d:expect_version(t.device.version)
    u:expect("\"report_version\"", { plain = true, timeout = 10 })
    t.expect(u:settle(300, { timeout = 10 }), "the board's console never went quiet")
  end,
}
