-- The device's MQTT login, signed with its device secret as Tencent IoT Hub
-- checks it (the lab's auth = "platform": the device's MQTT proxy holds each
-- CONNECT and qcloud.login decides, with qcloud.check_login and the lab's
-- secret). A device whose signature is wrong is refused (CONNACK 4) and FAILs
-- here. Then the platform refuses the device on purpose for a while (CONNACK 5,
-- not authorized, as for a disabled device); let in again, it must log in
-- again by itself, and meanwhile it should not hammer the broker.
--
-- How fast a refused device may retry is no platform rule in the seeds; the
-- device SDKs wait at least 1 s between reconnects, doubling up to 60 s
-- (aliyun iotkit-embedded / AliOS-Things linkkit iotx_mqtt_config.h:
-- IOTX_MC_RECONNECT_INTERVAL_MIN_MS 1000, _MAX_MS 60000). So a gap under 1 s
-- between two CONNECTs is a warning (the report shows it), and a FAIL only
-- for a lab that asks for it: strict = { "login-backoff" }; the number of
-- CONNECTs while refused is logged, never judged; and a device let in again
-- must log in within the SDKs' longest interval (60 s, plus 5). A version
-- report after the reconnect is not asked (docs/verdicts.md: not a rule).
local qcloud = require "qcloud"

local WINDOW = 8 -- seconds the platform refuses the device
local MIN_GAP = 1.0 -- the SDKs' least reconnect interval (above)
local MAX_GAP = 60 + 5 -- their longest, and a margin

-- The "mqtt.login" events on `stream` from cursor `from` on, as a list of times.
local function logins(t, stream, from)
  local times = {}
  while true do
    local ev, cur = t.next_event({ kind = "mqtt.login", stream = stream }, { from = from, timeout = 0 })
    if not ev then return times end
    times[#times + 1] = ev.t
    from = cur
  end
end

return {
  name = "signed MQTT login accepted; refused, the device backs off and logs in again",
  dialect = "qcloud",
  timeout = 120,
  requires = { "power", "auth" },
  run = function(t)
    local s = t.net.mqtt
    if not s:login_hold() then error("lab: the feature 'auth' needs auth = \"platform\" on the device", 0) end
    local stream = t.device.name .. "/mqtt"
    local from = t.cursor()
    local d = qcloud.attach(t)
    local r = t.next_event({ kind = "mqtt.login.result", stream = stream }, { from = from, timeout = d.boot_wait })
    t.expect(r, d:who() .. ": sent no MQTT CONNECT within " .. d.boot_wait .. " s")
    t.expect(r.action == "accept", d:who() .. ": its MQTT login was refused: " .. tostring(r.reason))
    d:expect_version(t.device.version)

    s:on_login(function() return false, "refused on purpose (is the device backing off?)", "not_authorized" end)
    local window = t.cursor()
    s:reset() -- the device loses its connection and logs in again, and again
    t.sleep(WINDOW)
    local times = logins(t, stream, window)
    t.log(("%d CONNECTs in %g s while refused"):format(#times, WINDOW), { connects = #times })
    local least
    for i = 2, #times do least = math.min(least or math.huge, times[i] - times[i - 1]) end
    if least and least < MIN_GAP then
      local why = ("refused, it logged in again after %.2f s (the device SDKs wait at least %g s)"):format(least, MIN_GAP)
      if d.strict["login-backoff"] then d:fail(1, "%s (strict login-backoff)", why) end
      d:warn("%s", why)
    end

    local back = t.cursor()
    s:on_login(function(l) return qcloud.login(t, l) end)
    local again = t.next_event({ kind = "mqtt.login.result", stream = stream, action = "accept" },
                               { from = back, timeout = MAX_GAP })
    t.expect(again, d:who() .. ": refused for " .. WINDOW .. " s, it did not log in again within " .. MAX_GAP ..
      " s once the platform let it in")
  end,
}
