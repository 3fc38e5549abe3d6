-- quecthing: Quectel QuecThing FOTA and SOTA, cloud side (seeds 000 and 002).
--
-- QuecThing's wire protocol is the vendor's own and not public, so otahil
-- models it as a JSON dialect over MQTT that carries exactly the events and
-- fields of the seeds' QuecPython API: one message per API call (device ->
-- cloud) or per callback (cloud -> device). Every message is a JSON object
-- with "event". Topics, for product PK and device DN:
--
--   qth/PK/DN/up     device -> cloud
--   qth/PK/DN/down   cloud -> device
--   qth/PK/DN/lab    the lab -> otadev: {battery, signal, disk}, the emulated
--                    module's sensors (not QuecThing: a scenario's knob)
--
-- up (QuecPython call -> message):
--   connecting (device info)  {event="version", comp_no="module", version}
--   Qth.setMcuVer(comp, ver)  {event="setMcuVer", comp_no, version}
--   Qth.otaRequest()          {event="otaRequest"}
--   Qth.otaAction(1 | 0)      {event="otaAction", plan_id, comp_no, action=1|0, reason}
--                             (reason: ours, why a plan was refused)
--   the SDK's step feedback   {event="otaStep", plan_id, comp_no, step, percent}
--       step: "received" (plan accepted), "downloading" (percent 0..100),
--       "transferring" (SOTA: to the MCU, percent), "updating" (FOTA: burning),
--       "done". Seed 000: FOTA = received, downloading, done; seed 002:
--       SOTA = received, downloading, transferring, done.
--   fotaResult(comp_no, result)  {event="fotaResult", plan_id, comp_no, result, version, msg}
--   sotaResult(comp_no, result)  {event="sotaResult", ...same}
--       result 0 success; -1 download failed, -2 file not found, -3 URL
--       expired, -4 MD5 or size mismatch, -5 update failed (also: interrupted),
--       -6 CRC32 mismatch, -7 SHA-256 mismatch, -8 transfer to the MCU failed.
--       A FOTA result comes after the reboot, when the device is connected
--       again (seed 000); success also needs the version report = target.
-- down (callback <- message):
--   otaPlan(plans)            {event="otaPlan", plan_id, comp_no, comp_type (0 module, 1 MCU:
--                              the vendor's comType), package="full"|"diff",
--                              source_version (diff only), target_version,
--                              min_battery (%), min_signal (dBm), disk_space (bytes),
--                              mode="silent"|"confirm"}
--   the user's confirmation   {event="userConfirm", plan_id, confirm=1|0}
--       (a user-confirmed plan: the user confirms in the app, which reaches the
--       device through the cloud; the device answers otaAction only then)
--   (FOTA file, SDK-internal) {event="fotaInfo", plan_id, comp_no, version, url, md5, size}
--   sotaInfo(comp, ver, url, md5, crc...)
--                             {event="sotaInfo", plan_id, comp_no, version, url, md5,
--                              crc32 (number), sha256, size}
--
-- Vendor notes, where the seeds are silent or differ:
--   * the QuecOpen C API says the SDK requests plans by itself when it comes
--     online; the seed says the app calls Qth.otaRequest() or waits for the
--     platform's matching every 10 minutes. A device may do either.
--   * QuecPython's otaAction is 1 accept / 0 refuse (seed and vendor agree);
--     the QuecOpen C function Qth_otaPlanConfirm is the other way round. We
--     follow the QuecPython API, which the seeds use.
--   * the vendor's app SDK names the component types 0 module, 1 MCU
--     (comType); we use them as comp_type.
--
-- What the platform does on its own (Dev:platform, a background task):
--   plan matching. Seed 000: "设备需调用 Qth.otaRequest() 函数请求 OTA 升级" or
--   "设备可无需请求 OTA，确保设备在线，等待平台每隔 10 分钟主动匹配下发升级计划", and
--   for a package's source version "开发者中心根据设备连接平台时上报的设备信息中的版本号
--   判断是否与此参数一致，若一致则下发升级信息" (the platform matches when the device
--   connects and reports its versions). So the platform matches and pushes
--   every matching plan: when the device reports its module version (it has
--   connected), on its otaRequest, and every timing.rematch seconds (the
--   lab's knob; the seed's 10 minutes by default); a scenario can also say
--   that time has passed (d:rematch()). Within one connection a plan is
--   pushed once unless it was refused or failed; the periodic matching pushes
--   any plan still pending. After otaAction(1) the platform sends the file
--   (fotaInfo / sotaInfo); a success result ends the plan for the device.
--   A plan reaches a device only if the device is in scope (no lists: all;
--   whitelist only: those; blacklist only: all but those; both: the whitelist
--   minus the blacklist, black wins), the time is in the push window (whole
--   hours, in the plan's time zone), and the component's reported version
--   fits (a differential package: exactly its source version; a full
--   package: any version but the target).
--
-- Rules that FAIL a device (observe; docs/verdicts.md): garbage on its topic
-- (named with the device and the topic), otaAction other than 1/0, accepting a user-confirmed plan before the user confirmed
-- (seed 000: 用户确认升级), steps of a plan it did not accept, an unknown step,
-- a transferring step in a FOTA plan, progress going backwards within one
-- download or transfer (a new download from 0 or another push may start it
-- anew; after a 206 resume at byte N the percent is at least N/size - 10), a
-- result code outside the list, a success result for a version other than
-- the target (seed 000: success = the target version reported).
-- Not rules: an otaRequest at all (seed 000), the "updating" step (seed 000
-- names three FOTA steps: received, downloading, done), a result after a
-- power cut during an upgrade.
--
-- The MCU (SOTA) is the lab's modules = { STM32 = "1.0.0" }: its component
-- name and factory version. expect_mcu_image reads the MCU's boot line on
-- the device's console: "boot version=<v> ... crc32=<8 hex>" (otamcu's form,
-- which an MCU of another make prints as well to be checked this way).
--
-- next_report, wait_for, power_off, power_on, power_cycle, push_raw (and
-- image, which is good_image) are cloud.Dev's (scenarios/lib/cloud.lua).
local cloud = require "cloud"
local M = {}
local Dev = cloud.inherit {}
Dev.__index = Dev

-- The rules a scenario may relax (d:allow{...}; docs/verdicts.md, seeds 000/002).
Dev.rules = {
  ["progress-backwards"] = "a downloading or transferring percent goes down within one download or transfer",
  ["resume-percent"] = "after a 206 resume at byte N, a downloading percent below N/size - 10 points",
}

M.codes = {
  [0] = "success",
  [-1] = "download failed",
  [-2] = "file not found",
  [-3] = "URL expired",
  [-4] = "MD5 or size mismatch",
  [-5] = "update failed",
  [-6] = "CRC32 mismatch",
  [-7] = "SHA-256 mismatch",
  [-8] = "transfer to the MCU failed",
}

-- Is `name` in the list?
local function member(list, name)
  for _, x in ipairs(list or {}) do if x == name then return true end end
  return false
end

-- Plan scope with black and white lists; the blacklist wins (seed 000).
function M.in_scope(plan, device)
  if plan.blacklist and member(plan.blacklist, device) then return false, "blacklisted" end
  if plan.whitelist and #plan.whitelist > 0 and not member(plan.whitelist, device) then
    return false, "not in the whitelist"
  end
  return true
end

-- Is the UTC time `now` in the plan's push window? window = {from = H, to = H}
-- in whole hours of the time zone tz (hours from UTC); to > from, or wrapping
-- past midnight when to < from. No window: any time.
function M.in_window(plan, now)
  local w = plan.window
  if not w then return true end
  local h = math.floor(((now // 3600) + (plan.tz or 8)) % 24)
  local ok
  if w.from <= w.to then ok = h >= w.from and h < w.to else ok = h >= w.from or h < w.to end
  if ok then return true end
  return false, ("hour %d (UTC%+d) is outside the push window %02d:00-%02d:00"):format(h, plan.tz or 8, w.from, w.to)
end

-- Connects the cloud to the device's topics, starts the platform and powers
-- the device on (opts.power = false leaves it off: activate plans first, as
-- they are active on the platform before a device comes online).
function M.attach(t, opts)
  opts = cloud.opts(opts, "quecthing.attach", { "power" })
  local self = cloud.new(Dev, t)
  local lab = self.dev
  local base = "qth/" .. lab.product .. "/" .. lab.device
  self.up, self.down, self.lab = base .. "/up", base .. "/down", base .. "/lab"
  -- the MCU's component id and factory version: the lab's modules
  for name, version in pairs(self.modules) do
    if not self.mcu_name or name < self.mcu_name then self.mcu_name, self.mcu_version = name, version end
  end
  self.rematch_every = (lab.timing or {}).rematch or 600
  self.nplans = 0
  self.clock = os.time     -- the platform's clock (UTC seconds); scenarios may replace it
  self.plans = {}          -- active plans, by id
  self.seen = {}           -- the platform's view: component -> last reported version
  self.session = 0         -- the platform's count of the device's connections
  self.pending = {}        -- plan id -> what the platform sent and saw
  self.versions = {}       -- the judge's view: component -> last reported version
  self.judged = {}         -- plan id -> what the judge saw: action, percents, steps
  self.mq = cloud.connect(self, { self.up })
  self:start_platform()
  self:start_rematch()
  if opts.power ~= false then self:power_on() end
  return self
end

-- ---- plans -----------------------------------------------------------------

-- Declares and activates a plan. p: id, image (t.fw:serve), target_version,
-- comp_no (default "module", or the lab's MCU for comp_type 1), comp_type,
-- package ("full"|"diff"), source_version, min_battery, min_signal,
-- disk_space (default image size), mode ("silent"|"confirm"), whitelist,
-- blacklist, window = {from, to}, tz; overrides md5, crc32, sha256, size.
function Dev:activate(p)
  assert(p.image, "activate: image = t.fw:serve(...) is required")
  assert(p.target_version, "activate: target_version is required")
  self.nplans = self.nplans + 1
  p.id = p.id or ("plan-" .. self.nplans)
  p.comp_type = p.comp_type or 0
  if p.comp_type == 1 and not p.comp_no and not self.mcu_name then
    error(("lab: device '%s' declares no MCU (modules = { STM32 = \"1.0.0\" })"):format(self.lab_name), 2)
  end
  p.comp_no = p.comp_no or (p.comp_type == 1 and self.mcu_name or "module")
  p.package = p.package or "full"
  p.mode = p.mode or "silent"
  p.min_battery = p.min_battery or 20
  p.min_signal = p.min_signal or -110
  p.disk_space = p.disk_space or p.image.size
  self.plans[p.id] = p
  return p
end

-- Ends a plan: it is never pushed again.
function Dev:deactivate(p) self.plans[p.id] = nil end

-- Does plan p reach this device now? Returns true, or false and why.
function Dev:match(p)
  local ok, why = M.in_scope(p, self.name)
  if not ok then return false, why end
  ok, why = M.in_window(p, self.clock())
  if not ok then return false, why end
  local running = self.seen[p.comp_no]
  if p.package == "diff" then
    if running ~= p.source_version then
      return false, ("differential package for %s, %s runs %s"):format(p.source_version, p.comp_no, tostring(running))
    end
  elseif running == p.target_version then
    return false, "already runs " .. running
  end
  return true
end

-- Pushes plan p (whether it matches or not: the scenario decides).
function Dev:push_plan(p, over)
  over = over or {}
  local msg = {
    event = "otaPlan", plan_id = p.id, comp_no = p.comp_no, comp_type = p.comp_type,
    package = p.package, target_version = p.target_version,
    min_battery = p.min_battery, min_signal = p.min_signal, disk_space = p.disk_space, mode = p.mode,
  }
  if p.package == "diff" then msg.source_version = p.source_version end
  for k, v in pairs(over) do msg[k] = v end
  local st = self.pending[p.id] or {}
  st.plan, st.pushed, st.session, st.state = p, (st.pushed or 0) + 1, self.session, "pushed"
  self.pending[p.id] = st
  self:platform_event("otaPlan", { plan = p.id, count = st.pushed })
  self:publish(msg)
end

-- Is plan p due for a push by a matching of kind `why` ("connect",
-- "otaRequest": once per connection; "periodic": whatever is still pending)?
function Dev:due(p, why)
  local st = self.pending[p.id]
  if not st or st.state == "refused" or st.state == "failed" then return true end
  if st.state == "done" then return false end
  return why == "periodic" or st.session ~= self.session
end

-- The platform's matching: pushes every matching plan that is due. Returns
-- how many were pushed. A scenario calls it to say that time has passed
-- (the seed's matching every 10 minutes).
function Dev:rematch(why)
  why = why or "periodic"
  local ids = {}
  for id in pairs(self.plans) do ids[#ids + 1] = id end
  table.sort(ids)
  local n = 0
  for _, id in ipairs(ids) do
    local p = self.plans[id]
    local ok, whynot = self:match(p)
    if ok and self:due(p, why) then
      self:push_plan(p)
      n = n + 1
    elseif not ok then
      otahil.log(("plan %s not pushed to %s (%s matching): %s"):format(id, self.name, why, whynot))
    end
  end
  return n
end

-- The seed's matching every 10 minutes: timing.rematch seconds in the lab.
function Dev:start_rematch()
  otahil.spawn(function()
    while true do
      otahil.sleep(self.rematch_every)
      self:rematch("periodic")
    end
  end)
end

function Dev:publish(msg)
  local ok, err = self.mq:publish(self.down, json.encode(msg), { qos = 1 })
  if not ok then error("cloud: publish " .. tostring(msg.event) .. ": " .. tostring(err), 3) end
end

-- The user confirms (1) or declines (0) a user-confirmed plan in the app.
function Dev:confirm(p, yes)
  local st = self.pending[p.id] or { plan = p }
  st.confirmed = yes ~= 0 and yes ~= false
  self.pending[p.id] = st
  self:publish { event = "userConfirm", plan_id = p.id, confirm = st.confirmed and 1 or 0 }
end

-- Sets the emulated module's battery (%), signal (dBm), free disk (bytes).
function Dev:set_env(env)
  local ok, err = self.mq:publish(self.lab, json.encode(env), { qos = 1 })
  if not ok then error("cloud: publish lab environment: " .. tostring(err), 2) end
  otahil.log("lab environment of " .. self.name .. ": " .. json.encode(env))
end

-- Sends the file of an accepted plan (fotaInfo / sotaInfo).
function Dev:send_info(p)
  local img = p.image
  local msg = {
    event = p.comp_type == 1 and "sotaInfo" or "fotaInfo", plan_id = p.id, comp_no = p.comp_no,
    version = p.target_version, url = p.url or img.url, md5 = p.md5 or img.md5,
    size = p.size or img.size,
  }
  if p.comp_type == 1 then
    msg.crc32 = p.crc32 or img.crc32
    msg.sha256 = p.sha256 or img.sha256
  end
  self:publish(msg)
end

-- The platform's side of every message the device sends (never FAILs).
function Dev:platform(ev)
  local r = json.decode(ev.payload)
  if type(r) ~= "table" then return end
  local st = type(r.plan_id) == "string" and self.pending[r.plan_id] or nil
  if r.event == "version" and type(r.comp_no) == "string" and type(r.version) == "string" then
    self.seen[r.comp_no] = r.version
    if r.comp_no == "module" then
      self.session = self.session + 1 -- the module reports its version when it connects
      self:rematch("connect")
    end
  elseif r.event == "setMcuVer" and type(r.comp_no) == "string" and type(r.version) == "string" then
    self.seen[r.comp_no] = r.version
  elseif r.event == "otaRequest" then
    self:rematch("otaRequest")
  elseif r.event == "otaAction" and st then
    st.state = r.action == 1 and "accepted" or "refused"
    if r.action == 1 then self:send_info(st.plan) end
  elseif (r.event == "fotaResult" or r.event == "sotaResult") and st and type(r.result) == "number" then
    if r.result == 0 then
      st.state = "done"
      self:deactivate(st.plan) -- the platform's plan is done for this device
    else
      st.state = "failed"
    end
  end
end

-- ---- what the device says ----------------------------------------------------

local valid_steps = { received = 1, downloading = 2, transferring = 3, updating = 3, done = 4 }

function Dev:judge_action(r, msg)
  if r.action ~= 0 and r.action ~= 1 then self:fail(4, "otaAction %s is neither 1 nor 0", tostring(r.action)) end
  local st = self.pending[r.plan_id]
  if not st or not st.pushed then
    -- an answer to something that was not a plan of ours (garbage on the
    -- downlink): the seeds do not forbid it; the judge only notes it
    otahil.log(("otaAction(%s) for %s, which the platform never pushed"):format(tostring(r.action), tostring(r.plan_id)))
    return
  end
  if r.action == 1 and st.plan.mode == "confirm" and not st.confirmed then
    self:fail(4, "accepted the user-confirmed plan %s before the user confirmed it", r.plan_id)
  end
  -- a new acceptance starts a new download and transfer
  self.judged[r.plan_id] = { action = r.action, steps = {}, from = msg.index }
end

function Dev:judge_step(r, msg)
  local j = self.judged[r.plan_id]
  if not valid_steps[r.step] then self:fail(4, "otaStep with unknown step %s", tostring(r.step)) end
  if not j or j.action ~= 1 then
    self:fail(4, "step %s for plan %s, which it never accepted", r.step, tostring(r.plan_id))
  end
  local plan = self.pending[r.plan_id].plan
  if r.step == "transferring" and plan.comp_type ~= 1 then self:fail(4, "transferring step in a FOTA plan") end
  if r.step == "downloading" or r.step == "transferring" then
    local pc = r.percent
    if type(pc) ~= "number" or pc < 0 or pc > 100 then self:fail(4, "%s percent %s is not 0..100", r.step, tostring(pc)) end
    local key = r.step .. "_low"
    if r.step == "downloading" then
      j.from = self:download_starts(plan.image, j.from, function(start, status)
        if status == 206 and start > 0 and plan.image.size > 0 then
          j.downloading_low = math.max(0, start * 100 // plan.image.size - 10)
          j.why = ("it resumed at byte %d of %d"):format(start, plan.image.size)
        else
          j.downloading_low, j.why = -1, nil
        end
      end, msg.index)
    end
    if pc < (j[key] or -1) and r.step == "downloading" and j.why then
      self:rule("resume-percent",
        "reported downloading %d %% after %s: its progress must continue from the breakpoint (at least %d %%)",
        pc, j.why, j[key])
    elseif pc < (j[key] or -1) then
      self:rule("progress-backwards", "%s progress went backwards: %d %% after %d %%", r.step, pc, j[key])
    end
    j[key], j.why = pc, nil
  end
  j.steps[#j.steps + 1] = r.step
end

function Dev:judge_result(r, ev)
  if type(r.result) ~= "number" or not M.codes[r.result] then
    self:fail(4, "%s with result %s, not one of the codes", ev, tostring(r.result))
  end
  local st = self.pending[r.plan_id]
  if not st or not st.pushed then
    otahil.log(("%s %d for %s, which the platform never pushed"):format(ev, r.result, tostring(r.plan_id)))
    return
  end
  if r.result == 0 and (type(r.version) ~= "string" or r.version ~= st.plan.target_version) then
    self:fail(4, "%s success but version %s, the plan's target is %s", ev, tostring(r.version), st.plan.target_version)
  end
end

-- Checks one message against what a correct device may say; returns it decoded.
function Dev:observe(msg)
  local r, err = json.decode(msg.payload)
  if type(r) ~= "table" or type(r.event) ~= "string" then
    self:fail(3, "sent garbage on %s: %s (%s)", msg.topic, err or "no \"event\" string", msg.payload:sub(1, 80))
  end
  local ev = r.event
  if ev == "version" or ev == "setMcuVer" then
    if type(r.comp_no) ~= "string" or type(r.version) ~= "string" then
      self:fail(3, "%s without comp_no and version strings on %s", ev, msg.topic)
    end
    self.versions[r.comp_no] = r.version
  elseif ev == "otaRequest" then
    self.requests = (self.requests or 0) + 1
  elseif ev == "otaAction" then
    self:judge_action(r, msg)
  elseif ev == "otaStep" then
    self:judge_step(r, msg)
  elseif ev == "fotaResult" or ev == "sotaResult" then
    self:judge_result(r, ev)
  else
    self:fail(3, "sent an unknown event %s on %s", ev, msg.topic)
  end
  return r
end

-- The steps the device reported for plan p since it last accepted it.
function Dev:steps(p)
  local j = self.judged[p.id]
  return j and j.steps or {}
end

-- A message in a few words, with its content, for a FAIL on timeout.
function Dev:describe(r)
  if r.event == "version" or r.event == "setMcuVer" then return ("%s %s %s"):format(r.event, tostring(r.comp_no), tostring(r.version)) end
  if r.event == "otaStep" then return ("otaStep %s %s%s"):format(tostring(r.plan_id), tostring(r.step), r.percent and (" " .. r.percent .. " %") or "") end
  if r.event == "otaAction" then return ("otaAction(%s) %s"):format(tostring(r.action), tostring(r.plan_id)) end
  if r.result then return ("%s %s %s"):format(r.event, tostring(r.plan_id), tostring(r.result)) end
  return r.event
end

function Dev:percent_of(r) return r.event == "otaStep" and r.step == "downloading" and r.percent or nil end

-- Waits until the device reports `version` for comp (default "module").
-- opts.strict: any other version of that component FAILs.
function Dev:expect_version(version, opts)
  opts = cloud.opts(opts, "expect_version", { "comp", "strict", "timeout" })
  local comp = opts.comp or "module"
  local r = self:wait_for(function(r)
    if (r.event ~= "version" and r.event ~= "setMcuVer") or r.comp_no ~= comp then return false end
    if r.version == version then return true end
    if opts.strict then
      return ("%s reported %s version %s, expected %s"):format(self:who(), comp, r.version, version)
    end
    return false
  end, opts.timeout or self.boot_wait, ("%s version %s"):format(comp, version), 2)
  return r
end

-- Waits until the device has said hello after power on: its module version
-- (the platform matches plans then).
function Dev:ready()
  self:wait_for(function(r) return r.event == "version" and r.comp_no == "module" end, self.boot_wait,
    "module version report after boot", 2)
end

-- The MCU's version as setMcuVer reports it.
function Dev:expect_mcu_version(version, opts)
  opts = opts or {}
  opts.comp = self.mcu_name
  local r = self:expect_version(version, opts)
  return r
end

-- Waits for the device's answer to plan p: otaAction with `action` (1 or 0).
function Dev:expect_action(p, action, opts)
  opts = cloud.opts(opts, "expect_action", { "timeout", "level" })
  local r = self:wait_for(function(r)
    if r.event ~= "otaAction" or r.plan_id ~= p.id then return false end
    if r.action ~= action then
      return ("%s answered plan %s with otaAction(%d)%s, expected otaAction(%d)"):format(
        self:who(), p.id, r.action, r.reason and (" (" .. r.reason .. ")") or "", action)
    end
    return true
  end, opts.timeout or self.step_wait, ("otaAction(%d) for plan %s"):format(action, p.id), opts.level or 2)
  return r
end

-- Waits for otaStep `name` of plan p; a failure result FAILs.
function Dev:expect_step(p, name, opts)
  opts = cloud.opts(opts, "expect_step", { "timeout", "level" })
  local r = self:wait_for(function(r)
    if (r.event == "fotaResult" or r.event == "sotaResult") and r.plan_id == p.id and r.result ~= 0 then
      return ("%s: %s %d (%s: %s) while step %s was expected"):format(self:who(), r.event, r.result,
        M.codes[r.result] or "?", tostring(r.msg), name)
    end
    return r.event == "otaStep" and r.plan_id == p.id and r.step == name
  end, opts.timeout or self.step_wait, ("step %s of plan %s"):format(name, p.id), opts.level or 2)
  return r
end

-- Waits for the result of plan p: code 0 (default), the failure code, or
-- any failure when code is "failure".
function Dev:expect_result(p, code, opts)
  opts = cloud.opts(opts, "expect_result", { "timeout", "level" })
  code = code or 0
  local want = p.comp_type == 1 and "sotaResult" or "fotaResult"
  local r = self:wait_for(function(r)
    if r.event ~= want or r.plan_id ~= p.id then return false end
    if code == "failure" and r.result ~= 0 then return true end
    if r.result ~= code then
      return ("expected %s %s (%s) for plan %s, %s reported %d (%s: %s) at %.2f s"):format(want, tostring(code),
        M.codes[code] or "a failure", p.id, self:who(), r.result, M.codes[r.result] or "?", tostring(r.msg), r.t or 0)
    end
    return true
  end, opts.timeout or self.step_wait, ("%s %s for plan %s"):format(want, tostring(code), p.id), opts.level or 2)
  return r
end

-- The shared vocabulary of the dialect libraries (docs/dialects.md): the
-- platform's own words mapped onto expect_progress / expect_fail.
-- expect_progress{plan = p, state = "downloading" | ... | "done", timeout =}
-- is expect_step; expect_fail{plan = p, code = -N | "failure", timeout =} is
-- expect_result with a failure code.
function Dev:expect_progress(opts)
  cloud.opts(opts, "expect_progress", { "plan", "state", "timeout" })
  local p = assert(opts.plan, "expect_progress: plan = (what activate returned) is required")
  local r = self:expect_step(p, assert(opts.state, "expect_progress: state = ... is required"),
    { timeout = opts.timeout, level = 3 })
  return r
end

function Dev:expect_fail(opts)
  cloud.opts(opts, "expect_fail", { "plan", "code", "timeout" })
  local p = assert(opts.plan, "expect_fail: plan = (what activate returned) is required")
  local code = assert(opts.code, "expect_fail: code = ... is required")
  if code == 0 then error("expect_fail: code 0 is success (expect_result(p, 0))", 2) end
  local r = self:expect_result(p, code, { timeout = opts.timeout, level = 3 })
  return r
end

-- A FOTA plan from accept to the new version after the reboot: seed 000's
-- three steps (received, downloading, then the result, which comes after the
-- reboot when the device is connected again, with the target version).
function Dev:fota(p)
  local at = { level = 3 } -- FAILs name the scenario's line
  self:expect_action(p, 1, at)
  self:expect_step(p, "received", at)
  self:expect_step(p, "downloading", at)
  self:expect_result(p, 0, { timeout = self.step_wait + self.boot_wait + self.download_timeout, level = 3 })
  if self.versions.module ~= p.target_version then
    self:fail(2, "reported success but runs %s, not %s", tostring(self.versions.module), p.target_version)
  end
end

-- A SOTA plan: seed 002's four steps, the result and the MCU's new version.
function Dev:sota(p)
  local at = { level = 3 } -- FAILs name the scenario's line
  self:expect_action(p, 1, at)
  self:expect_step(p, "received", at)
  self:expect_step(p, "downloading", at)
  self:expect_step(p, "transferring", at)
  self:expect_step(p, "done", at)
  self:expect_result(p, 0, at)
  if self.versions[p.comp_no] ~= p.target_version then
    self:fail(2, "reported success but its MCU runs %s, not %s", tostring(self.versions[p.comp_no]), p.target_version)
  end
end

-- After a fault broke the download of plan p: waits for the device's next
-- request for its image. A device may retry by itself, or report a failure
-- result and wait: the platform's next matching (the seed's 10 minutes: the
-- scenario says time has passed) pushes the plan again. Returns the request
-- (cloud.Dev:next_request's). FAILs when neither comes within step_wait.
function Dev:await_retry(p)
  local mult = self.t.timeout_multiplier or 1
  local img = p.image
  local from = math.max(self.req_cursor[img.name] or 0, self.req_from)
  local deadline = otahil.now() + self.step_wait * mult
  local rematched = 0
  while otahil.now() < deadline do
    local req, cur = otahil.next_event({ kind = "http.request", stream = self.lab_name .. "/http" },
                                       { from = from, timeout = 0 })
    if req then
      from = cur
      if req.path and cloud.is_image_path(req.path, img) then return self:next_request(img, { level = 3 }) end
    else
      local r = self:next_report(0.1)
      if r and (r.event == "fotaResult" or r.event == "sotaResult") and r.plan_id == p.id and r.result ~= 0 then
        if rematched >= 3 then break end
        rematched = rematched + 1
        otahil.log(("the device reported %s %d and waits: the platform's next matching"):format(r.event, r.result))
        self:rematch("periodic")
        deadline = otahil.now() + self.step_wait * mult
      end
    end
  end
  self:fail(2, "did not download %s again within %gs after the break", img.name, self.step_wait)
end

-- Reads the MCU's boot line on the console: the version and CRC32 of the
-- image it boots. FAILs unless the MCU runs exactly img.
function Dev:expect_mcu_image(img, version, timeout)
  local want = ("%08x"):format(img.crc32)
  local ev = self.dev:console_next { re = "boot version=" .. version:gsub("%.", "\\.") .. "[ ,].*crc32=", timeout = timeout or self.step_wait }
  if not ev then self:fail(2, "the MCU never booted version %s (no console line \"boot version=%s ... crc32=...\")", version, version) end
  local crc = ev.line:match("crc32=(%x+)")
  if not crc or crc:lower() ~= want then
    self:fail(2, "the MCU runs version %s with CRC32 %s, the image's is %s: it installed corrupted bytes",
      version, tostring(crc), want)
  end
end

-- Reads the device's messages for `quiet` seconds (default 0.5); one about
-- plan p FAILs with fmt (p.id, its event) at the line that called the caller.
local function watch_quiet(self, p, quiet, fmt)
  local mult = self.t.timeout_multiplier or 1
  local deadline = otahil.now() + (quiet or 0.5) * mult
  while otahil.now() < deadline do
    local r = self:next_report((deadline - otahil.now()) / mult)
    if r and r.plan_id == p.id then self:fail(3, fmt, p.id, r.event) end
  end
end

-- Asserts that the device says nothing about plan p for `quiet` seconds (a
-- short watch: used where the device must wait for someone else).
function Dev:expect_no_answer(p, quiet)
  watch_quiet(self, p, quiet, "answered plan %s (%s) before it should")
end

-- Asserts that plan p never reached the device: not pushed, and no answer
-- for `quiet` seconds.
function Dev:expect_no_plan(p, quiet)
  watch_quiet(self, p, quiet, "received plan %s, which must not reach it (%s)")
  local st = self.pending[p.id]
  if st and st.pushed then self:fail(2, "the cloud pushed plan %s, which must not reach it", p.id) end
end

-- The lab's good image of `version` (default: the first other than the
-- device's own), served: returns version, image (cloud.Dev:good_image). The
-- MCU's images are good images too, of their own versions (the lab names them).
Dev.image = cloud.Dev.good_image

return M
