-- t.net.mqtt:on_login(fn): one task per stream, started by the first call,
-- hands every CONNECT the proxy holds to the handler of the moment (fn(l) ->
-- true[, why] | false, why[, code]); with none (on_login(nil)) nobody decides
-- and the hold times out (api_net_login.c). Compiled into otahil
-- (harness/lua/embed.cmake); called once per state with the stream methods S.
local S = ...
local handlers, running = setmetatable({}, { __mode = 'k' }), setmetatable({}, { __mode = 'k' })
function S:on_login(fn)
  if fn ~= nil and type(fn) ~= 'function' then error('on_login: a function, or nil (nobody decides)', 2) end
  if not self:login_hold() then error(tostring(self) .. ': on_login needs the device\'s lab key auth = "platform"', 2) end
  handlers[self] = fn or false
  if running[self] then return end
  running[self] = true
  otahil.spawn(function()
    while true do
      local l = self:next_login { timeout = 3600 }
      local h = handlers[self]
      if l and h then
        local ok, why, code = h(l)
        if ok == true then self:login_accept(l.conn, why and tostring(why))
        elseif ok == false then self:login_refuse(l.conn, code or 'bad_credentials', why and tostring(why)) end
      end
    end
  end)
end
