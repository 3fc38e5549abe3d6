-- t.device reads like a table: pairs works, cmd is the command as started.
return {
  name = "pairs(t.device) and the expanded cmd",
  dialect = "qcloud",
  run = function(t)
    local seen = {}
    for k, v in pairs(t.device) do seen[k] = v end
    for _, k in ipairs { "name", "dialect", "product", "device", "version", "kind", "cmd", "images", "timing", "uart" } do
      t.expect(seen[k] ~= nil, "pairs(t.device) has no " .. k)
    end
    t.expect(seen.power_on == nil, "pairs(t.device) lists the methods")
    local cmd = table.concat(t.device.cmd, " ")
    t.expect(not cmd:find("{", 1, true), "t.device.cmd has placeholders: " .. cmd)
    t.expect(cmd:find("--device " .. t.device.device, 1, true), "t.device.cmd lacks the device's name: " .. cmd)
    -- the module-MCU relay only for a device that names {mcu_tty}: otadev's qcloud device does not
    t.expect(t.serial == nil, "t.serial for a device whose cmd names no {mcu_tty}")
  end,
}
