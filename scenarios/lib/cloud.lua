-- cloud: what the dialect libraries (qcloud, aliyun, haas, quecthing) share on
-- the cloud side.
--
-- A dialect's device object inherits cloud.Dev (cloud.inherit(D)), is made by
-- cloud.new and has besides: mq (the cloud's MQTT client, see cloud.connect),
-- up (the topic filter the device's messages arrive on), down (the downlink
-- topic push_raw publishes on); observe(msg) -> the message decoded and
-- checked (the rules that can FAIL a device, at the scenario's pace);
-- describe(r) -> a few words naming a decoded message, with its content (in a
-- FAIL on timeout); and, when the platform acts on its own, platform(ev, index)
-- (see Dev:start_platform).
--
-- Two halves, kept apart on purpose:
--   * the platform (what the real cloud does by itself: re-push a pending
--     upgrade, answer a firmware query, match plans) runs in a background task
--     on every message the device sends, as it arrives, whatever the scenario
--     is waiting for: a device that waits for the cloud is never left waiting
--     because the scenario happens to be reading something else;
--   * the judge (observe, the expect_* waits) checks what the device says when
--     the scenario reads it, and FAILs at the scenario's line.
--
-- Hold points and cut points wait on the wire (the proxy's body bytes, the
-- HTTP requests it saw), never on the device's own progress report: devices
-- may rate-limit progress, and a held download produces none.
--
-- FAIL messages name the lab device and the platform identity:
-- "device 'emu-qcloud' (OTAHILQC01/emu-qcloud): ..." (Dev:who).
local M = {}
local Dev = {}
M.Dev = Dev

-- Makes `D`, a dialect's method table, fall back to cloud.Dev's methods.
-- A helper's option table, checked: a key it does not take is an error at the
-- scenario's line, naming the keys it takes (otahil.check_keys skips the frames
-- of scenarios/lib). Returns opts, or {} for nil.
function M.opts(opts, what, keys)
  otahil.check_keys(opts, what, keys)
  return opts or {}
end

function M.inherit(D)
  return setmetatable(D, { __index = Dev })
end

local function set_of(list)
  local s = {}
  for _, v in ipairs(list or {}) do s[v] = true end
  return s
end

-- A device object of class D (a dialect's Dev) for the case's device, with
-- t, dev (t.device), product, name (the device's name on the platform),
-- lab_name (its name in the lab file), boot_wait (power on to its first
-- message: the lab's timing.boot, default 10 s), step_wait (the longest gap
-- between two progress messages: timing.step, default 15 s), settle (how
-- long a device may take to put bytes it received on its flash:
-- timing.settle, default 1 s), download_timeout (the device's own: timing.
-- download_timeout, default 10 s), strict (the lab's strict = {...} as a set:
-- rules the lab asks for beyond the seeds' lenient reading), modules (the
-- lab's modules = {name = version}: components besides the main firmware).
function M.new(D, t)
  local lab = t.device
  local timing = lab.timing or {}
  return setmetatable({ t = t, dev = lab, product = lab.product, name = lab.device,
                        lab_name = lab.name,
                        boot_wait = timing.boot or 10, step_wait = timing.step or 15,
                        settle = timing.settle or 1,
                        download_timeout = timing.download_timeout or 10,
                        strict = set_of(lab.strict), modules = lab.modules or {},
                        req_cursor = {}, req_from = 0 }, D)
end

-- "device 'lab-name' (product/device)": who a FAIL is about.
function Dev:who()
  return ("device '%s' (%s/%s)"):format(self.lab_name, self.product, self.name)
end

-- FAILs with who() and the formatted text, at the scenario's line (rt finds
-- it whatever `level` says; `level` is where to look first, as for otahil.fail).
function Dev:fail(level, fmt, ...)
  otahil.fail(self:who() .. ": " .. fmt:format(...), level + 1)
end

-- ---- rules a scenario may relax ---------------------------------------------
-- A dialect library lists in D.rules (name -> what it forbids, in a few words)
-- the behaviour rules a scenario may deliberately provoke in a correct device
-- (docs/verdicts.md has them with their seed sentences). The message-shape
-- rules (malformed JSON, a missing field) are not among them: a message the
-- judge cannot read cannot be judged.

-- Relaxes the named rules for this case: a breach is then a "rule.allowed"
-- event in the log, not a FAIL. Each relaxation is a "rule.allow" event. An
-- unknown name is an error at the scenario's line, naming the rules.
function Dev:allow(names)
  if type(names) ~= "table" or #names == 0 then
    error("allow: a list of rule names, e.g. d:allow{ \"progress-backwards\" }", 2)
  end
  self.allowed = self.allowed or {}
  for _, n in ipairs(names) do
    if not (self.rules and self.rules[n]) then
      local known = {}
      for k in pairs(self.rules or {}) do known[#known + 1] = k end
      table.sort(known)
      error(("allow: unknown rule '%s' (%s)"):format(tostring(n), table.concat(known, ", ")), 2)
    end
    self.allowed[n] = true
    otahil.event("rule.allow", { device = self.lab_name, rule = n })
  end
end

-- A breach of rule `name` (one of D.rules): FAILs as Dev:fail does, the rule's
-- name at the end and the library line that checks it in brackets, unless the
-- scenario allowed it (then logged, and the judge goes on).
function Dev:rule(name, fmt, ...)
  if not (self.rules and self.rules[name]) then error("cloud: rule " .. name .. " is not in the library's rules", 2) end
  local text = fmt:format(...)
  if self.allowed and self.allowed[name] then
    otahil.event("rule.allowed", { device = self.lab_name, rule = name, msg = self:who() .. ": " .. text })
    return
  end
  otahil.fail(("%s: %s (rule %s)"):format(self:who(), text, name), 2)
end

-- Flags what the seeds only recommend against (a "warning" event with
-- who() and the text): shown in the case's log and report, never a FAIL.
function Dev:warn(fmt, ...)
  otahil.event("warning", { device = self.lab_name, msg = self:who() .. ": " .. fmt:format(...) })
end

-- The cloud's MQTT client for device object `dev` (of cloud.new), subscribed
-- to `topics`. A broker that refuses is an error (not a FAIL) at the line of
-- the scenario that attached (this is called by a dialect's attach).
function M.connect(dev, topics)
  dev.mq_id = "otahil-cloud-" .. dev.name .. "-" .. dev.t.id
  local mq, err = mqtt.connect { id = dev.mq_id }
  if not mq then error("cloud: cannot connect to the broker: " .. tostring(err), 3) end
  for _, topic in ipairs(topics) do
    local ok, why = mq:subscribe(topic)
    if not ok then error("cloud: subscribe " .. topic .. ": " .. tostring(why), 3) end
  end
  return mq
end

-- The platform: a background task that hands every message the cloud's
-- client receives, as it arrives, to self:platform(ev, index) (ev: the
-- mqtt.in event with topic and payload; index: its place in the event log,
-- comparable with otahil.cursor()). The platform acts (publishes, logs), it
-- never FAILs: judging is observe's job; an error in it is logged and the
-- platform goes on.
function Dev:start_platform()
  local from = otahil.cursor()
  otahil.spawn(function()
    while true do
      local ev, cur = otahil.next_event({ kind = "mqtt.in", client = self.mq_id }, { from = from, timeout = 3600 })
      if ev then
        from = cur
        local ok, err = pcall(self.platform, self, ev, cur - 1)
        if not ok then
          otahil.log("cloud platform: " .. (type(err) == "table" and tostring(err.message) or tostring(err)))
        end
      end
    end
  end)
end

-- Logs what the platform did on its own, as a "cloud" event (e.g.
-- action = "repush", count = 2): the report shows every message the cloud
-- sent unasked.
function Dev:platform_event(action, fields)
  fields = fields or {}
  fields.action = action
  fields.device = self.lab_name
  otahil.event("cloud", fields)
end

-- Waits for a report for which pred(r) is true and returns it; a string from
-- pred FAILs with that text. With nothing accepted within `timeout` seconds
-- (the lab's seconds: scaled here by the timeout multiplier) it FAILs naming
-- `what` and the last message seen, with its content and time ("last:
-- report_version 1.0.0 at 3.2 s"). `level` is where the FAIL points, as for
-- otahil.fail, counted from the caller of M.wait_for.
function M.wait_for(dev, pred, timeout, what, level, describe, idle)
  local mult = dev.t.timeout_multiplier or 1
  local deadline = otahil.now() + timeout * mult
  local last
  while true do
    local left = deadline - otahil.now()
    if left <= 0 then break end
    local r = dev:next_report(idle and math.min(left / mult, idle) or left / mult)
    if not r and idle and deadline - otahil.now() > 0 then
      local seen = last and describe(last) or "nothing"
      otahil.fail(("%s: silent for %gs while waiting for %s (last: %s)"):format(dev:who(), idle, what, seen), level + 1)
    end
    if not r then break end
    local verdict = pred(r)
    if verdict == true then return r end
    if type(verdict) == "string" then otahil.fail(verdict, level + 1) end
    last = r
  end
  local seen = last and (describe(last) .. (last.t and (" at %.1f s"):format(last.t) or "")) or "nothing"
  otahil.fail(("%s: no %s within %gs (last: %s)"):format(dev:who(), what, timeout, seen), level + 1)
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

-- ---- cloud.Dev: messages -------------------------------------------------------

-- The next message of the device (decoded and checked), or nil on timeout.
function Dev:next_report(timeout)
  local msg, cur = self.mq:next(self.up, { timeout = timeout })
  if not msg then return nil end
  msg.index = cur - 1 -- its place in the event log: what happened before it is below
  local r = self:observe(msg)
  if type(r) == "table" and r.t == nil then r.t = msg.t end
  return r
end

-- Waits for a message for which pred(r) is true; a string from pred FAILs;
-- `what` names it in the FAIL on timeout. `level` as for M.wait_for, counted
-- from the caller of this method (default 2: its caller's caller).
function Dev:wait_for(pred, timeout, what, level, idle)
  local r = M.wait_for(self, pred, timeout, what, (level or 2) + 1,
                       function(l) return self:describe(l) end, idle)
  return r -- not a tail call: FAIL levels count this frame
end

-- Does the MQTT topic filter `f` ("a/+/c", "a/#") match `topic`?
local function filter_matches(f, topic)
  local fs, ts = {}, {}
  for x in (f .. "/"):gmatch("([^/]*)/") do fs[#fs + 1] = x end
  for x in (topic .. "/"):gmatch("([^/]*)/") do ts[#ts + 1] = x end
  for i, x in ipairs(fs) do
    if x == "#" then return true end
    if ts[i] == nil or (x ~= "+" and x ~= ts[i]) then return false end
  end
  return #fs == #ts
end

-- Waits, up to `timeout` s, until the device's current MQTT connection has
-- subscribed to a filter matching `topic` (the proxy's net.subscribe events;
-- a new connection starts with none). A message published before that is lost
-- for the device on any broker, and a device may report before it subscribes
-- (Aliyun's C SDK informs its version inside IOT_MQTT_Construct and subscribes
-- to the upgrade topic afterwards, in IOT_OTA_Init). Returns true, or false
-- when it did not within the time (the caller publishes anyway).
function Dev:await_subscribed(topic, timeout)
  local stream, mult = self.lab_name .. "/mqtt", self.t.timeout_multiplier or 1
  local deadline = otahil.now() + timeout * mult
  self.sub_cursor = self.sub_cursor or 0
  while true do
    local have = self.subscribed_to ~= nil and self.subscribed_to[topic] == true
    local wait = have and 0 or math.max(deadline - otahil.now(), 0) / mult
    local ev, cur = otahil.next_event({ stream = stream }, { from = self.sub_cursor, timeout = wait })
    if not ev then return have end
    self.sub_cursor = cur
    if ev.kind == "net.open" then self.subscribed_to = nil end
    if ev.kind == "net.subscribe" then
      for f in tostring(ev.topics):gmatch("%S+") do
        if filter_matches(f, topic) then
          self.subscribed_to = self.subscribed_to or {}
          self.subscribed_to[topic] = true
        end
      end
    end
  end
end

-- Publishes raw bytes on the device's downlink (garbage on purpose).
function Dev:push_raw(payload)
  local ok, err = self.mq:publish(self.down, payload, { qos = 1 })
  if not ok then error("cloud: publish raw: " .. tostring(err), 2) end
end

-- Reads the device's messages for `quiet` seconds (default 1), accepting
-- whatever they are (still checked by observe): the way to let a device
-- answer garbage before the scenario goes on.
function Dev:drain(quiet)
  local mult = self.t.timeout_multiplier or 1
  local deadline = otahil.now() + (quiet or 1) * mult
  while otahil.now() < deadline do
    self:next_report((deadline - otahil.now()) / mult)
  end
end

-- ---- cloud.Dev: power -----------------------------------------------------------

-- Cuts power (opts as t.device:power_off) and forgets the messages the device
-- sent before, so the next expect_* sees what it says after power on. The
-- messages in flight are still checked by observe.
function Dev:power_off(opts)
  self.dev:power_off(opts)
  while self:next_report(0.05) do end
end

-- Powers the device on. Requests made before are history: next_request
-- looks only at those made from now on.
function Dev:power_on(opts)
  self.req_from = otahil.cursor()
  self.dev:power_on(opts)
end

-- Power off and on again, as a lab engineer pulls the plug; opts.off_for
-- seconds in between (default none). A number is taken as off_for.
function Dev:power_cycle(opts)
  if type(opts) == "number" then opts = { off_for = opts } end
  opts = M.opts(opts, "power_cycle", { "off_for" })
  self:power_off()
  if opts.off_for and opts.off_for > 0 then otahil.sleep(opts.off_for) end
  self:power_on()
end

-- ---- cloud.Dev: images ----------------------------------------------------------

-- The lab's good image of `version` (default: the first, in order, other than
-- the device's own version), served: returns version, image.
function Dev:good_image(version)
  local good = (self.dev.images or {}).good or {}
  if not version then
    local versions = {}
    for v in pairs(good) do if v ~= self.dev.version and not v:find("@") then versions[#versions + 1] = v end end
    table.sort(versions)
    version = versions[1]
  end
  if not version or not good[version] then
    error(("lab: device '%s' declares no good image %s (images.good)"):format(self.lab_name, version or "other than " .. self.dev.version), 2)
  end
  return version, self.t.fw:serve(good[version])
end

-- The lab's image of a kind ("fail_boot", "fail_burn"): returns version, served image.
function Dev:bad_image(kind)
  local spec = (self.dev.images or {})[kind]
  if not spec then error(("lab: device '%s' declares no images.%s"):format(self.lab_name, kind), 2) end
  return spec.version, self.t.fw:serve(spec.file)
end

-- The versions of the lab's good images of the main firmware other than the
-- device's own, sorted.
function Dev:other_versions()
  local out = {}
  for v in pairs((self.dev.images or {}).good or {}) do
    if v ~= self.dev.version and not v:find("@") then out[#out + 1] = v end
  end
  table.sort(out)
  return out
end

-- ---- cloud.Dev: the download as the wire saw it ---------------------------------

-- Is `path` (of an HTTP request) a request for image `img`?
local function is_image_path(path, img)
  local p = "/fw/" .. img.name
  return path:sub(1, #p) == p and (#path == #p or path:sub(#p + 1, #p + 1) == "?")
end
M.is_image_path = is_image_path

-- The next HTTP request the device made for `img` since the last push of it
-- (or the last power on, whichever is later), as the proxy saw it: the
-- http.request event (range, path, conn, t) with start (the offset its Range
-- asks for, 0 without) and status (of its response: 200, 206, 404...; nil if
-- none came within a second). FAILs when none comes within opts.timeout
-- seconds (default step_wait). Requests of earlier pushes are never returned.
-- opts may also be a number (the timeout).
function Dev:next_request(img, opts)
  if type(opts) ~= "table" then opts = { timeout = opts } end
  M.opts(opts, "next_request", { "timeout", "level" })
  local timeout = opts.timeout or self.step_wait
  local mult = self.t.timeout_multiplier or 1
  local deadline = otahil.now() + timeout * mult
  local from = math.max(self.req_cursor[img.name] or 0, self.req_from)
  local stream = self.lab_name .. "/http"
  while true do
    local left = (deadline - otahil.now()) / mult
    local req, cur = nil, nil
    if left > 0 then
      req, cur = otahil.next_event({ kind = "http.request", stream = stream }, { from = from, timeout = left })
    end
    if not req then
      self:fail(opts.level or 2, "made no request for %s within %gs", img.name, timeout)
    end
    from = cur
    if req.path and is_image_path(req.path, img) then
      self.req_cursor[img.name] = cur
      local resp = otahil.next_event({ kind = "http.response", stream = stream, conn = req.conn },
                                     { from = cur, timeout = 1 })
      req.status = resp and resp.status
      req.start = M.range_start(req)
      return req
    end
  end
end

-- Where the device's downloads of `img` started, as the proxy saw them
-- between `from` and `upto` (event log cursors; upto nil: now): calls
-- fn(start, status) for each response to a request for img, in order (start
-- = the byte the response's body begins at: the Range start for a 206, 0 for
-- any other status). Returns the new cursor. Never waits.
function Dev:download_starts(img, from, fn, upto)
  local stream = self.lab_name .. "/http"
  local pending = self.pending_conns or {}
  self.pending_conns = pending
  while true do
    local ev, cur = otahil.next_event({ stream = stream }, { from = from, timeout = 0 })
    if not ev or (upto and cur - 1 >= upto) then return from end
    from = cur
    if ev.kind == "http.request" and ev.path and is_image_path(ev.path, img) then
      pending[ev.conn] = M.range_start(ev)
    elseif ev.kind == "http.response" and pending[ev.conn] then
      local start = ev.status == 206 and pending[ev.conn] or 0
      pending[ev.conn] = nil
      fn(start, ev.status)
    end
  end
end

-- ---- cloud.Dev: the MQTT login (the lab's auth = "platform", docs/tls.md) ------

-- How fast a refused device may retry is no platform rule in the seeds or the
-- vendors' pages; Aliyun's C SDK waits at least 1 s between reconnects and at
-- most 60 s (alibaba/AliOS-Things middleware/linkkit/sdk-c/src/protocol/mqtt/
-- iotx_mqtt_config.h: IOTX_MC_RECONNECT_INTERVAL_MIN_MS 1000, _MAX_MS 60000).
local LOGIN_MIN_GAP, LOGIN_MAX_GAP = 1.0, 60 + 5

local function login_net(self)
  local s = M.net(self.t).mqtt
  if not s:login_hold() then error("lab: the feature 'auth' needs auth = \"platform\" on the device", 3) end
  return s, self.lab_name .. "/mqtt"
end

-- A dialect's login policy (the lab's auth = "platform") from its
-- check_login(o): the harness holds each CONNECT and calls the policy with the
-- "mqtt.login" event l (client_id, username, password); a login the check
-- accepts goes on, one it refuses (false, why) gets CONNACK 4 (bad user name
-- or password), as the platforms refuse a wrong signature, and one it cannot
-- judge (nil, why) makes the case an ERROR. The decision and why
-- are the "mqtt.login.result" event.
function M.login_policy(name, check)
  return function(t, l)
    local d = t.device
    local ok, why = check { client_id = l.client_id, username = l.username, password = l.password,
                            product = d.product, device = d.device, secret = d.secret, tls = d.tls ~= nil }
    if ok then return true, name .. ".check_login: signed with the device secret" end
    -- nil: a login the policy cannot judge (not a wrong one): the case is an ERROR
    if ok == nil then error(name .. ".check_login: " .. why, 0) end
    return false, name .. ".check_login: " .. why, "bad_credentials"
  end
end

-- The lab's auth = "platform": when a case starts, the harness calls this
-- (harness/run/case_table.c) and the dialect library's login(t, l) decides
-- every CONNECT the device's MQTT proxy holds (C holds and answers, the library
-- judges). A library with no login policy is an ERROR of the case, naming both
-- (a dialect the catalogue lists no login for is refused earlier, at lab load).
function M.wire_login(t, dialect)
  local lib = require(dialect)
  if type(lib) ~= "table" or type(lib.login) ~= "function" then
    error(("device '%s' has auth = \"platform\", and the dialect library '%s' has no login(t, l) policy")
          :format(t.device.name, dialect), 0)
  end
  t.net.mqtt:on_login(function(l) return lib.login(t, l) end)
end

-- Waits for the decision on the device's first MQTT login after event-log
-- cursor `from` (take it before attach powers the device on) and FAILs when
-- the platform's policy refused it, with the reason, or when none came within
-- boot_wait.
function Dev:expect_login(from)
  local _, stream = login_net(self)
  local r = otahil.next_event({ kind = "mqtt.login.result", stream = stream }, { from = from, timeout = self.boot_wait })
  if not r then self:fail(2, "sent no MQTT CONNECT within %g s", self.boot_wait) end
  if r.action ~= "accept" then self:fail(2, "its MQTT login was refused: %s", tostring(r.reason)) end
  return r
end

-- The platform refuses the device's logins for opts.seconds (default 8; CONNACK
-- 5, not authorized, as for a disabled device) after dropping its connection,
-- then lets it in again with opts.policy (the dialect's login(t, l)). The
-- CONNECTs meanwhile are counted (a "log" event), never judged; two less than
-- 1 s apart are a warning (a FAIL with strict login-backoff); let in again, the
-- device must log in by itself within the SDKs' longest interval (65 s).
-- Returns how many CONNECTs it made while refused.
function Dev:refuse_logins(opts)
  opts = M.opts(opts, "refuse_logins", { "seconds", "policy" })
  local s, stream = login_net(self)
  local window, policy = opts.seconds or 8, assert(opts.policy, "refuse_logins: policy = the dialect's login")
  s:on_login(function() return false, "refused on purpose (is the device backing off?)", "not_authorized" end)
  local from = otahil.cursor()
  s:reset()
  otahil.sleep(window)
  local times = {}
  while true do
    local ev, cur = otahil.next_event({ kind = "mqtt.login", stream = stream }, { from = from, timeout = 0 })
    if not ev then break end
    times[#times + 1], from = ev.t, cur
  end
  otahil.log(("%d CONNECTs in %g s while refused"):format(#times, window), { connects = #times })
  local least
  for i = 2, #times do least = math.min(least or math.huge, times[i] - times[i - 1]) end
  if least and least < LOGIN_MIN_GAP then
    local why = ("refused, it logged in again after %.2f s (the device SDKs wait at least %g s)"):format(least, LOGIN_MIN_GAP)
    if self.strict["login-backoff"] then self:fail(2, "%s (strict login-backoff)", why) end
    self:warn("%s", why)
  end
  local back = otahil.cursor()
  s:on_login(function(l) return policy(self.t, l) end)
  local again = otahil.next_event({ kind = "mqtt.login.result", stream = stream, action = "accept" },
                                  { from = back, timeout = LOGIN_MAX_GAP })
  if not again then
    self:fail(2, "refused for %g s, it did not log in again within %g s once the platform let it in", window, LOGIN_MAX_GAP)
  end
  return #times
end

-- ---- cloud.Dev: faults on the download ------------------------------------------

-- The next response for `img` is cut after `at` body bytes, once.
function Dev:cut_download(img, at)
  M.net(self.t).http:cut { at_body_byte = at, times = 1 }
  self.cut = { img = img, at = at }
end

-- Arms a stall: the download of `img` stops after `at` body bytes and the link
-- stays silent (until clear_faults). Call before push_update, then hold_reached.
function Dev:stall_download(img, at)
  M.net(self.t).http:stall { after_body_byte = at }
  self.stalled = { img = img, at = at }
end

-- Waits until the proxy has delivered the first `at` bytes of the stalled
-- download (see stall_download) to the device: a hold point on the wire.
-- FAILs when they are not delivered within `timeout` (default step_wait).
-- Then it gives the device up to `settle` seconds (the lab's timing.settle)
-- to put them on its flash, as a lab engineer waits before pulling the plug:
-- sooner when the device reports progress that far (self:percent_of(r), if
-- the dialect has it), but a device that says nothing is never failed for it.
function Dev:hold_reached(timeout)
  local s = assert(self.stalled, "hold_reached: call stall_download first")
  timeout = timeout or self.step_wait
  local ok = M.net(self.t).http:wait_body_bytes(s.at, { timeout = timeout }) -- waits scale it themselves
  if not ok then
    self:fail(2, "did not download %d bytes of %s within %gs", s.at, s.img.name, timeout)
  end
  local want = math.max(1, s.at * 100 // s.img.size - 10)
  local mult = self.t.timeout_multiplier or 1
  local deadline = otahil.now() + self.settle * mult
  while otahil.now() < deadline do
    local r = self:next_report((deadline - otahil.now()) / mult)
    local pc = r and self.percent_of and self:percent_of(r)
    if pc and pc >= want then break end
  end
end

-- Removes every fault (network and firmware server) on `img`.
function Dev:clear_faults(img)
  if self.t.net then self.t.net:clear() end
  if img then self.t.fw:fault(img) end
  self.stalled, self.cut = nil, nil
end

return M
