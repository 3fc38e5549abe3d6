-- A telnet console with a baud at a server that refuses RFC 2217: the console
-- never comes up, and the FAIL says why. Used by e2e_telnet.sh.
return {
  name = "telnet console whose baud cannot be set",
  dialect = "qcloud",
  timeout = 30,
  run = function(t)
    t.device:power_on()
    t.device.uart:expect("U-Boot", { plain = true, timeout = 2 })
  end,
}
