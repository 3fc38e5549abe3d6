-- The readable fault methods of a t.net stream (t.net.http:cut{...}, ...):
-- each checks its keys and builds a SPEC string ("cut:body=1024,times=1") for
-- S:fault, whose C side (api_net.c, netem's fault parser) checks the values.
-- Compiled into otahil (harness/lua/embed.cmake); called once per state with
-- the stream methods S and the key checker (otahil.check_keys).
local S, keys = ...
local function spec(kind, parts) if #parts == 0 then return kind end return kind .. ':' .. table.concat(parts, ',') end
local function add(parts, k, v) if v ~= nil and v ~= false then parts[#parts + 1] = (v == true) and k or (k .. '=' .. tostring(v)) end end
local function list(v) if type(v) == 'table' then return table.concat(v, ',') end return v end
local function common(p, o) add(p, 'times', o.times) add(p, 'dir', o.dir) end
function S:cut(o) keys(o, 'cut', 'at_body_byte', 'at_byte', 'after_ms', 'rst', 'tls_alert', 'times', 'dir')
  local p = {} add(p, 'body', o.at_body_byte) add(p, 'bytes', o.at_byte)
  add(p, 'ms', o.after_ms) add(p, 'rst', o.rst) add(p, 'alert', o.tls_alert) common(p, o) return self:fault(spec('cut', p)) end
function S:corrupt(o)
  if not self:is_http() then error('corrupt counts bytes from a connection\'s start, and the device\'s MQTT connection is already open: use corrupt_publish{topic = ...}', 2) end
  keys(o, 'corrupt', 'body_bytes', 'bytes', 'random', 'within', 'xor', 'times', 'dir')
  local p = {} add(p, 'body', list(o.body_bytes)) add(p, 'bytes', list(o.bytes))
  add(p, 'random', o.random) if o.random and self:is_http() then add(p, 'body', true) end
  add(p, 'within', o.within) add(p, 'xor', o.xor) common(p, o) return self:fault(spec('corrupt', p)) end
function S:throttle(o) keys(o, 'throttle', 'rate', 'times', 'dir')
  local p = {} add(p, 'rate', o.rate) common(p, o) return self:fault(spec('throttle', p)) end
function S:latency(o) keys(o, 'latency', 'ms', 'jitter', 'times', 'dir')
  local p = {} add(p, 'ms', o.ms) add(p, 'jitter', o.jitter) common(p, o) return self:fault(spec('latency', p)) end
function S:stall(o) o = o or {} keys(o, 'stall', 'after_body_byte', 'after_byte', 'ms', 'times', 'dir')
  local p = {} add(p, 'body', o.after_body_byte) add(p, 'bytes', o.after_byte)
  add(p, 'ms', o.ms) common(p, o) return self:fault(spec('stall', p)) end
function S:flap(o) keys(o, 'flap', 'every', 'rst', 'times', 'dir')
  local p = {} add(p, 'every', o.every) add(p, 'rst', o.rst) common(p, o) return self:fault(spec('flap', p)) end
function S:drop(o) keys(o, 'drop', 'topic', 'count', 'dir')
  local p = {} add(p, 'topic', o.topic) add(p, 'count', o.count) add(p, 'dir', o.dir) return self:fault(spec('mqtt-drop', p)) end
function S:delay(o) keys(o, 'delay', 'topic', 'ms', 'count', 'dir')
  local p = {} add(p, 'topic', o.topic) add(p, 'ms', o.ms) add(p, 'count', o.count) add(p, 'dir', o.dir) return self:fault(spec('mqtt-delay', p)) end
function S:dup(o) keys(o, 'dup', 'topic', 'count', 'dir')
  local p = {} add(p, 'topic', o.topic) add(p, 'count', o.count) add(p, 'dir', o.dir) return self:fault(spec('mqtt-dup', p)) end
function S:corrupt_publish(o) keys(o, 'corrupt_publish', 'topic', 'random', 'at', 'count', 'dir')
  local p = {} add(p, 'topic', o.topic) add(p, 'random', o.random) add(p, 'count', o.count)
  add(p, 'dir', o.dir) add(p, 'at', list(o.at)) return self:fault(spec('mqtt-corrupt', p)) end
function S:cut_after_publish(o) keys(o, 'cut_after_publish', 'topic', 'nth', 'rst', 'dir')
  local p = {} add(p, 'topic', o.topic) add(p, 'nth', o.nth or 1) add(p, 'rst', o.rst) add(p, 'dir', o.dir) return self:fault(spec('mqtt-cut', p)) end
