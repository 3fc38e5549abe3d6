-- uart:expect with optional = true: nil on timeout, for counting and polling.
local qcloud = require "qcloud"

return {
  name = "an optional console expect returns nil on timeout",
  dialect = "qcloud",
  timeout = 30,
  requires = { "console" },
  run = function(t)
    local uart = t.device.uart
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local n = 0
    while uart:expect("boot slot=", { plain = true, timeout = 0.5, optional = true }) do n = n + 1 end
    t.expect(n == 1, "counted " .. n .. " boot lines, want 1")
    local at = uart:cursor()
    t.expect(uart:expect("no such line", { plain = true, timeout = 0.2, optional = true }) == nil,
      "an optional expect that timed out did not return nil")
    t.expect(uart:cursor() == at, "an optional expect that timed out moved the cursor")
  end,
}
