-- cloud: what the dialect libraries (qcloud, aliyun, haas, quecthing) share on
-- the cloud side: the wait loop, and the methods of a device object that do
-- not depend on the platform (cloud.Dev).
--
-- A dialect's device object inherits cloud.Dev (cloud.inherit(Dev)), is
-- made by cloud.new and has besides: mq (the cloud's MQTT client, see
-- cloud.connect), up (the topic filter the device's messages arrive on), down
-- (the downlink topic push_raw publishes on); observe(msg) -> the message
-- decoded and checked; describe(r) -> a few words naming a decoded message
-- (in a FAIL on timeout).
local M = {}
local Dev = {}
M.Dev = Dev

-- Makes `D`, a dialect's method table, fall back to cloud.Dev's methods.
function M.inherit(D)
  return setmetatable(D, { __index = Dev })
end

-- A device object of class D (a dialect's Dev) for the case's device, with
-- t, dev (t.device), product, name (the device's name on the platform),
-- boot_wait (power on to its first message: the lab's timing.boot, default
-- 10 s), step_wait (the longest gap between two progress messages:
-- timing.step, default 15 s) and req_cursor (image name -> event log
-- position of its last push, for next_request).
function M.new(D, t)
  local lab = t.device
  local timing = lab.timing or {}
  return setmetatable({ t = t, dev = lab, product = lab.product, name = lab.device,
                        boot_wait = timing.boot or 10, step_wait = timing.step or 15,
                        req_cursor = {} }, D)
end

-- The cloud's MQTT client for device object `dev` (of cloud.new), subscribed
-- to `topics`. A broker that refuses is an error (not a FAIL) at the line of
-- the scenario that attached (this is called by a dialect's attach).
function M.connect(dev, topics)
  local mq, err = mqtt.connect { id = "otahil-cloud-" .. dev.name .. "-" .. dev.t.id }
  if not mq then error("cloud: cannot connect to the broker: " .. tostring(err), 3) end
  for _, topic in ipairs(topics) do
    local ok, why = mq:subscribe(topic)
    if not ok then error("cloud: subscribe " .. topic .. ": " .. tostring(why), 3) end
  end
  return mq
end

-- Waits for a report for which pred(r) is true and returns it; a string from
-- pred FAILs with that text. With nothing accepted within `timeout` seconds
-- (the lab's seconds: scaled here by the timeout multiplier) it FAILs naming
-- `what` and the last report, as describe(r) tells it. `level` is where the
-- FAIL points, as for otahil.fail, counted from the caller of M.wait_for.
function M.wait_for(dev, pred, timeout, what, level, describe)
  local mult = dev.t.timeout_multiplier or 1
  local deadline = otahil.now() + timeout * mult
  local last
  while true do
    local left = deadline - otahil.now()
    if left <= 0 then break end
    local r = dev:next_report(left / mult)
    if not r then break end
    local verdict = pred(r)
    if verdict == true then return r end
    if type(verdict) == "string" then otahil.fail(verdict, level + 1) end
    last = r
  end
  local seen = last and describe(last) or "nothing"
  otahil.fail(("device '%s': no %s within %gs (last message: %s)"):format(dev.name, what, timeout, seen), level + 1)
end

-- The offset a request's Range asks for ("bytes=N-" -> N), 0 without Range.
function M.range_start(req)
  local n = req and req.range and req.range:match("^bytes=(%d+)%-")
  return n and tonumber(n) or 0
end

-- The network fault API, or an error (not a FAIL) naming what is missing.
function M.net(t)
  if not t.net then error("this scenario needs the harness's network faults (t.net)", 2) end
  return t.net
end

-- ---- cloud.Dev ---------------------------------------------------------------

-- The next message of the device (decoded and checked), or nil on timeout.
function Dev:next_report(timeout)
  local msg = self.mq:next(self.up, { timeout = timeout })
  if not msg then return nil end
  return self:observe(msg)
end

-- Waits for a message for which pred(r) is true; a string from pred FAILs;
-- `what` names it in the FAIL on timeout. `level` as for M.wait_for, counted
-- from the caller of this method (default 2: its caller's caller).
function Dev:wait_for(pred, timeout, what, level)
  local r = M.wait_for(self, pred, timeout, what, (level or 2) + 1,
                       function(l) return self:describe(l) end)
  return r -- not a tail call: FAIL levels count this frame
end

-- Cuts power (opts as t.device:power_off) and forgets the messages the device
-- sent before, so the next expect_* sees what it says after power on. The
-- messages in flight are still checked by observe.
function Dev:power_off(opts)
  self.dev:power_off(opts)
  while self:next_report(0.05) do end
end

-- Power off and on again, as a lab engineer pulls the plug; `off_for`
-- seconds in between (default none).
function Dev:power_cycle(off_for)
  self:power_off()
  if off_for and off_for > 0 then otahil.sleep(off_for) end
  self.dev:power_on()
end

-- The lab's good image of `version` (default: the first, in order, other than
-- the device's own version), served: returns version, image.
function Dev:good_image(version)
  local good = (self.dev.images or {}).good or {}
  if not version then
    local versions = {}
    for v in pairs(good) do if v ~= self.dev.version then versions[#versions + 1] = v end end
    table.sort(versions)
    version = versions[1]
  end
  if not version or not good[version] then
    error(("lab: device '%s' declares no good image %s (images.good)"):format(self.dev.name, version or "other than " .. self.dev.version), 2)
  end
  return version, self.t.fw:serve(good[version])
end

-- The lab's image of a kind ("fail_boot", "fail_burn"): returns version, served image.
function Dev:bad_image(kind)
  local spec = (self.dev.images or {})[kind]
  if not spec then error(("lab: device '%s' declares no images.%s"):format(self.dev.name, kind), 2) end
  return spec.version, self.t.fw:serve(spec.file)
end

-- Publishes raw bytes on the device's downlink (garbage on purpose).
function Dev:push_raw(payload)
  local ok, err = self.mq:publish(self.down, payload, { qos = 1 })
  if not ok then error("cloud: publish raw: " .. tostring(err), 2) end
end

-- The next HTTP request the firmware server answered for `img` since the last
-- push of it (range, status, sent, complete); FAILs when none comes within
-- `timeout` seconds (default step_wait). Requests of earlier pushes are never
-- returned. `level` as for otahil.fail (default 1: the caller).
function Dev:next_request(img, timeout, level)
  timeout = timeout or self.step_wait
  local from = self.req_cursor[img.name] or 0
  local req, cur = otahil.next_event({ kind = "http", stream = "fwserver", name = img.name },
    { from = from, timeout = timeout }) -- scaled by the wait itself
  if not req then
    otahil.fail(("device '%s' made no request for %s within %gs"):format(self.name, img.name, timeout), (level or 1) + 1)
  end
  self.req_cursor[img.name] = cur
  return req
end

return M
