-- The uart API against echo_board.py on a pty: a banner sent a byte at a time,
-- capture groups, two readers with their own cursors, a paced send, settle.
return {
  name = "uart expect, readers, send and settle",
  dialect = "qcloud",
  timeout = 30,
  run = function(t)
    local u = t.device.uart
    local helper = u:reader()          -- a second cursor, at the same place
    t.device:power_on()
    local m, ver = u:expect("U-Boot ([0-9.]+) \\((otahil)\\)")
    otahil.expect(m == "U-Boot 2024.01 (otahil)", "whole match: " .. tostring(m))
    otahil.expect(ver == "2024.01", "capture: " .. tostring(ver))
    -- the helper still sees the banner the scenario consumed
    otahil.expect(helper:expect("U-Boot", { plain = true }) == "U-Boot", "helper's own cursor")
    otahil.expect(u:cursor() > helper:cursor(), "cursors moved independently")
    u:expect("login: ", { plain = true })
    local t0 = otahil.now()
    otahil.expect(u:send("root\n", { char_delay = 0.05 }), "send")
    otahil.expect(otahil.now() - t0 >= 0.18, "char_delay paces the bytes (4 gaps of 50 ms)")
    u:expect("^# ", { timeout = 5 })
    local later = u:reader { from = "now" }
    otahil.expect(u:settle(300, { timeout = 10 }), "the console settles")
    local _, last = later:expect("tick ([0-9])\r\n")
    otahil.expect(last ~= nil, "the reader from 'now' sees what came later")
    local start = u:reader { from = "start" }
    otahil.expect(start:expect("U-Boot", { plain = true }), "a reader from the start sees the banner")
    local ok, err = pcall(u.expect, u, "(unclosed")
    otahil.expect(not ok and tostring(err):find("bad regex", 1, true), "a bad regex is an error: " .. tostring(err))
  end,
}
