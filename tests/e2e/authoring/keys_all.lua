-- Every table-taking call names a key it does not take, at this file's line.
local qcloud = require "qcloud"

local function misuse(t, line, what, ok, err)
  local want = ("keys_all.lua:%d: %s: unknown key 'bogus' ("):format(line, what)
  t.expect(not ok and tostring(err):find(want, 1, true),
    ("%s: got %s, want %s"):format(what, tostring(err), want))
end

return {
  name = "unknown keys in every table-taking call",
  dialect = "qcloud",
  timeout = 60,
  run = function(t)
    local d = qcloud.attach(t, { power = false })
    local _, img = d:good_image()
    local u = t.device.uart
    misuse(t, 18, "fw:fault", pcall(t.fw.fault, t.fw, img, { bogus = 1 }))
    misuse(t, 19, "fw:url", pcall(t.fw.url, t.fw, img, { bogus = 1 }))
    misuse(t, 20, "next_event", pcall(otahil.next_event, { kind = "x" }, { bogus = 1 }))
    misuse(t, 21, "mqtt.connect", pcall(mqtt.connect, { id = t.id .. "-k", bogus = 1 }))
    misuse(t, 22, "uart:expect", pcall(u.expect, u, "x", { bogus = 1 }))
    misuse(t, 23, "power_off", pcall(t.device.power_off, t.device, { bogus = 1 }))
    misuse(t, 24, "console_next", pcall(t.device.console_next, t.device, { bogus = 1 }))
    misuse(t, 25, "stall", pcall(t.net.http.stall, t.net.http, { bogus = 1 }))
    misuse(t, 26, "wait_body_bytes", pcall(t.net.http.wait_body_bytes, t.net.http, 1, { bogus = 1 }))
    misuse(t, 27, "serial drop", pcall(t.serial.drop, t.serial, { bogus = 1 }))
    misuse(t, 28, "expect_progress", pcall(d.expect_progress, d, { bogus = 1 }))
    misuse(t, 29, "push_update", pcall(d.push_update, d, { image = img, version = "9", bogus = 1 }))
    misuse(t, 30, "power_cycle", pcall(d.power_cycle, d, { bogus = 1 }))
  end,
}
