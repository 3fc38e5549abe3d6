-- A board behind ser2net's telnet accepter (telnet_board.py): the console holds
-- the board's bytes only (no negotiation bytes; its 0xFF arrives once), and a
-- line with a 0xFF byte reaches the board as sent. The board reports the line
-- speed the console server set: the lab's timing.baud (RFC 2217, or ser2net's
-- own setting). Through a raw tcp console at the same accepter it FAILs: that
-- is what e2e_telnet.sh checks it against.
return {
  name = "telnet console: clean lines, 0xFF both ways, the baud",
  dialect = "qcloud",
  timeout = 30,
  run = function(t)
    local u = t.device.uart
    t.device:power_on()
    u:expect("^U-Boot 2024.01\r$", { timeout = 10 })          -- nothing before it on its line
    u:expect("^key \255\254 end\r$", { timeout = 5 })         -- one 0xFF, not two
    u:expect("login: ", { plain = true, timeout = 5 })
    otahil.expect(u:send("root\255pw\r\n"), "send")
    local _, hex, baud = u:expect("got ([0-9a-f]*) baud (-?[0-9]+)\r\n", { timeout = 10 })
    otahil.expect(hex == "726f6f74ff70770d0a", "the board read " .. hex .. ", not root\\255pw\\r\\n")
    otahil.expect(tonumber(baud) == t.device.timing.baud,
      "the board's line runs at " .. baud .. " baud, not " .. tostring(t.device.timing.baud))
  end,
}
