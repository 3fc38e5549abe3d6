-- The board crashes while the scenario waits for something else: a "panic"
-- typed on its console (tests/rack/pty_board.py) makes it print a Guru
-- Meditation banner and stop. The lab's console.death pattern must FAIL the
-- case at once, with the line, long before the wait below would time out.
local qcloud = require "qcloud"

return {
  name = "a crash banner on the board's console fails the case at once",
  dialect = "qcloud",
  timeout = 30,
  requires = { "power", "console" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local ok, why = t.device.uart:send("panic\r")
    assert(ok, why)
    t.device.uart:expect("never printed", { plain = true, timeout = 20 })
  end,
}
