-- A device floods MQTT; the cloud's client listens for 4 s (timeouts scale).
return { name = "an MQTT flood", dialect = "qcloud", timeout = 30, run = function(t)
  local c = assert(mqtt.connect { id = "flood-listener" })
  assert(c:subscribe("flood/#"))
  t.device:power_on()
  otahil.sleep(4)
end }
