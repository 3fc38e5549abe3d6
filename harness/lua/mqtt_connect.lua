-- mqtt.connect(opts): mqtt.open, then wait for the CONNACK (or the timeout);
-- nil, why on either failure, the half-open client closed. Compiled into
-- otahil (harness/lua/embed.cmake); called once per state with the module.
local mqtt = ...
function mqtt.connect(opts)
  local c, err = mqtt.open(opts)
  if not c then return nil, err end
  local ok, why = c:wait_connected(opts.timeout)
  if not ok then c:close() return nil, why end
  return c
end
