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
--     platform's matching every 10 minutes. otadev sends otaRequest on every
--     connect (the vendor); the cloud here also re-matches on demand (rematch).
--   * QuecPython's otaAction is 1 accept / 0 refuse (seed and vendor agree);
--     the QuecOpen C function Qth_otaPlanConfirm is the other way round. We
--     follow the QuecPython API, which the seeds use.
--   * the vendor's app SDK names the component types 0 module, 1 MCU
--     (comType); we use them as comp_type.
--
-- Cloud policy (seed 000, "upgrade plan"): a plan reaches a device only if
-- the device is in scope (no lists: all; whitelist only: those; blacklist
-- only: all but those; both: the whitelist minus the blacklist, black wins),
-- the time is in the push window (whole hours, in the plan's time zone), and
-- the component's reported version fits (a differential package: exactly its
-- source version; a full package: any version but the target).
--
-- Every message the device sends goes through Dev:observe, which FAILs at once
-- on what a correct device never does: garbage on its topic (named with the
-- device and the topic), steps of a plan it did not accept, a download before
-- the user confirmed, progress going backwards, a result without a plan.
--
-- next_report, wait_for, power_off, power_cycle, push_raw (and image, which
-- is good_image) are cloud.Dev's (scenarios/lib/cloud.lua).
local cloud = require "cloud"
local M = {}
local Dev = cloud.inherit {}
Dev.__index = Dev

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

-- Connects the cloud to the device's topics and powers the device on
-- (opts.power = false leaves it off).
function M.attach(t, opts)
  opts = opts or {}
  local self = cloud.new(Dev, t)
  local lab = self.dev
  local base = "qth/" .. lab.product .. "/" .. lab.device
  self.up, self.down, self.lab = base .. "/up", base .. "/down", base .. "/lab"
  -- the MCU's component id, if the device has one: otadev's --mcu in the cmd
  for i, a in ipairs(lab.cmd or {}) do
    if a == "--mcu" then self.mcu_name = lab.cmd[i + 1] end
  end
  self.nplans = 0
  self.clock = os.time     -- the platform's clock (UTC seconds); scenarios may replace it
  self.plans = {}          -- active plans, by id
  self.versions = {}       -- component -> last reported version
  self.pending = {}        -- plan id -> what the cloud sent and saw
  self.mq = cloud.connect(self, { self.up })
  if opts.power ~= false then lab:power_on() end
  return self
end

local function fail(self, level, fmt, ...)
  otahil.fail(("device '%s': " .. fmt):format(self.name, ...), level + 1)
end

-- ---- plans -----------------------------------------------------------------

-- Declares and activates a plan. p: id, image (t.fw:serve), target_version,
-- comp_no (default "module", or the lab's mcu for comp_type 1), comp_type,
-- package ("full"|"diff"), source_version, min_battery, min_signal,
-- disk_space (default image size), mode ("silent"|"confirm"), whitelist,
-- blacklist, window = {from, to}, tz; overrides md5, crc32, sha256, size.
function Dev:activate(p)
  assert(p.image, "activate: image = t.fw:serve(...) is required")
  assert(p.target_version, "activate: target_version is required")
  self.nplans = self.nplans + 1
  p.id = p.id or ("plan-" .. self.nplans)
  p.comp_type = p.comp_type or 0
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
  local running = self.versions[p.comp_no]
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
  self.pending[p.id] = { plan = p, pushed = true }
  otahil.log("cloud pushes otaPlan " .. p.id .. " to " .. self.name)
  self:publish(msg)
end

-- The platform's matching (on otaRequest, and every 10 minutes in the seed;
-- here when a scenario says time has passed): pushes every matching plan.
-- Returns how many were pushed.
function Dev:rematch()
  local ids = {}
  for id in pairs(self.plans) do ids[#ids + 1] = id end
  table.sort(ids)
  local n = 0
  for _, id in ipairs(ids) do
    local p = self.plans[id]
    local ok, why = self:match(p)
    if ok then
      self:push_plan(p)
      n = n + 1
    else
      otahil.log(("plan %s not pushed to %s: %s"):format(id, self.name, why))
    end
  end
  return n
end

function Dev:publish(msg)
  local ok, err = self.mq:publish(self.down, json.encode(msg), { qos = 1 })
  if not ok then error("cloud: publish " .. tostring(msg.event) .. ": " .. tostring(err), 3) end
end

-- The user confirms (1) or declines (0) a user-confirmed plan in the app.
function Dev:confirm(p, yes)
  local st = self.pending[p.id] or {}
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

-- ---- what the device says ----------------------------------------------------

local valid_steps = { received = 1, downloading = 2, transferring = 3, updating = 3, done = 4 }

-- Checks one message against what a correct device may say, and lets the
-- cloud react as the platform does; returns it decoded.
function Dev:observe(msg)
  local r, err = json.decode(msg.payload)
  if type(r) ~= "table" or type(r.event) ~= "string" then
    fail(self, 3, "sent garbage on %s: %s (%s)", msg.topic, err or "no \"event\" string", msg.payload:sub(1, 80))
  end
  local ev = r.event
  if ev == "version" or ev == "setMcuVer" then
    if type(r.comp_no) ~= "string" or type(r.version) ~= "string" then
      fail(self, 3, "%s without comp_no and version strings on %s", ev, msg.topic)
    end
    self.versions[r.comp_no] = r.version
  elseif ev == "otaRequest" then
    self.requests = (self.requests or 0) + 1
    self:rematch()
  elseif ev == "otaAction" then
    local st = self.pending[r.plan_id]
    if not st then fail(self, 3, "otaAction for plan %s, which was never pushed", tostring(r.plan_id)) end
    if r.action ~= 0 and r.action ~= 1 then fail(self, 3, "otaAction %s is neither 1 nor 0", tostring(r.action)) end
    if r.action == 1 and st.plan.mode == "confirm" and not st.confirmed then
      fail(self, 3, "accepted the user-confirmed plan %s before the user confirmed it", r.plan_id)
    end
    st.action = r.action
    st.percent = -1
    if r.action == 1 and not self.hold_info then self:send_info(st.plan) end
  elseif ev == "otaStep" then
    local st = self.pending[r.plan_id]
    if not valid_steps[r.step] then fail(self, 3, "otaStep with unknown step %s", tostring(r.step)) end
    if not st or st.action ~= 1 then
      fail(self, 3, "step %s for plan %s, which it never accepted", r.step, tostring(r.plan_id))
    end
    if r.step == "downloading" or r.step == "transferring" then
      local pc = r.percent
      if type(pc) ~= "number" or pc < 0 or pc > 100 then fail(self, 3, "%s percent %s is not 0..100", r.step, tostring(pc)) end
      if r.step == "transferring" and st.plan.comp_type ~= 1 then fail(self, 3, "transferring step in a FOTA plan") end
      local key = r.step .. "_pc"
      if pc < (st[key] or -1) then fail(self, 3, "%s progress went backwards: %d%% after %d%%", r.step, pc, st[key]) end
      st[key] = pc
    end
    st.steps = st.steps or {}
    st.steps[#st.steps + 1] = r.step
  elseif ev == "fotaResult" or ev == "sotaResult" then
    if type(r.result) ~= "number" or not M.codes[r.result] then
      fail(self, 3, "%s with result %s, not one of the codes", ev, tostring(r.result))
    end
    local st = self.pending[r.plan_id]
    if not st then fail(self, 3, "%s for plan %s, which was never pushed", ev, tostring(r.plan_id)) end
    st.result = r.result
    if r.result == 0 then
      if type(r.version) ~= "string" or r.version ~= st.plan.target_version then
        fail(self, 3, "%s success but version %s, the plan's target is %s", ev, tostring(r.version), st.plan.target_version)
      end
      self:deactivate(st.plan) -- the platform's plan is done for this device
    end
  else
    fail(self, 3, "sent an unknown event %s on %s", ev, msg.topic)
  end
  return r
end

-- A message in a few words, for a FAIL on timeout (cloud.Dev:wait_for).
function Dev:describe(r) return r.event .. (r.step and (" " .. r.step) or "") end

-- Waits until the device reports `version` for comp (default "module").
-- opts.strict: any other version of that component FAILs.
function Dev:expect_version(version, opts)
  opts = opts or {}
  local comp = opts.comp or "module"
  local r = self:wait_for(function(r)
    if (r.event ~= "version" and r.event ~= "setMcuVer") or r.comp_no ~= comp then return false end
    if r.version == version then return true end
    if opts.strict then
      return ("device '%s' reported %s version %s, expected %s"):format(self.name, comp, r.version, version)
    end
    return false
  end, opts.timeout or self.boot_wait, ("%s version %s"):format(comp, version), 2)
  return r
end

-- Waits until the device has said hello after power on: its version and its
-- otaRequest (the cloud answers that with the matching plans).
function Dev:ready()
  self:wait_for(function(r) return r.event == "otaRequest" end, self.boot_wait, "otaRequest after boot", 2)
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
  opts = opts or {}
  local r = self:wait_for(function(r)
    if r.event ~= "otaAction" or r.plan_id ~= p.id then return false end
    if r.action ~= action then
      return ("device '%s' answered plan %s with otaAction(%d)%s, expected otaAction(%d)"):format(
        self.name, p.id, r.action, r.reason and (" (" .. r.reason .. ")") or "", action)
    end
    return true
  end, opts.timeout or self.step_wait, ("otaAction(%d) for plan %s"):format(action, p.id), opts.level or 2)
  return r
end

-- Waits for otaStep `name` of plan p; a failure result FAILs.
function Dev:expect_step(p, name, opts)
  opts = opts or {}
  local r = self:wait_for(function(r)
    if (r.event == "fotaResult" or r.event == "sotaResult") and r.plan_id == p.id and r.result ~= 0 then
      return ("device '%s': %s %d (%s: %s) while step %s was expected"):format(self.name, r.event, r.result,
        M.codes[r.result] or "?", tostring(r.msg), name)
    end
    return r.event == "otaStep" and r.plan_id == p.id and r.step == name
  end, opts.timeout or self.step_wait, ("step %s of plan %s"):format(name, p.id), opts.level or 2)
  return r
end

-- Waits for the result of plan p: code 0 (default) or the failure code.
function Dev:expect_result(p, code, opts)
  opts = opts or {}
  code = code or 0
  local want = p.comp_type == 1 and "sotaResult" or "fotaResult"
  local r = self:wait_for(function(r)
    if r.event ~= want or r.plan_id ~= p.id then return false end
    if r.result ~= code then
      return ("device '%s': %s %d (%s: %s), expected %d (%s)"):format(self.name, want, r.result,
        M.codes[r.result] or "?", tostring(r.msg), code, M.codes[code] or "?")
    end
    return true
  end, opts.timeout or self.step_wait, ("%s %d for plan %s"):format(want, code, p.id), opts.level or 2)
  return r
end

-- A FOTA plan from accept to the new version after the reboot.
function Dev:fota(p)
  local at = { level = 3 } -- FAILs name the scenario's line
  self:expect_action(p, 1, at)
  self:expect_step(p, "received", at)
  self:expect_step(p, "downloading", at)
  -- the result follows the reboot, right after the version report
  self:expect_result(p, 0, { timeout = self.step_wait + self.boot_wait, level = 3 })
  if self.versions.module ~= p.target_version then
    otahil.fail(("device '%s' reported success but runs %s, not %s"):format(self.name,
      tostring(self.versions.module), p.target_version), 2)
  end
end

-- A SOTA plan: the four steps, the result and the MCU's new version.
function Dev:sota(p)
  local at = { level = 3 } -- FAILs name the scenario's line
  self:expect_action(p, 1, at)
  self:expect_step(p, "received", at)
  self:expect_step(p, "downloading", at)
  self:expect_step(p, "transferring", at)
  self:expect_step(p, "done", at)
  self:expect_result(p, 0, at)
  if self.versions[p.comp_no] ~= p.target_version then
    otahil.fail(("device '%s' reported success but its MCU runs %s, not %s"):format(self.name,
      tostring(self.versions[p.comp_no]), p.target_version), 2)
  end
end

-- Reads the MCU's debug console: the version and CRC32 of the image it boots
-- (otamcu prints them at every boot). FAILs unless the MCU runs exactly img.
function Dev:expect_mcu_image(img, version, timeout)
  local want = ("%08x"):format(img.crc32)
  local ev = self.dev:console_next { re = "\\[otamcu\\] boot version=" .. version:gsub("%.", "\\.") .. " ", timeout = timeout or self.step_wait }
  if not ev then otahil.fail(("device '%s': the MCU never booted version %s"):format(self.name, version), 2) end
  local crc = ev.line:match("crc32=(%x+)")
  if crc ~= want then
    otahil.fail(("device '%s': the MCU runs version %s with CRC32 %s, the image's is %s: it installed corrupted bytes"):format(
      self.name, version, tostring(crc), want), 2)
  end
end

-- Reads the device's messages for `quiet` seconds (default 0.5); one about
-- plan p FAILs with fmt (p.id, its event) at the line that called the caller.
local function watch_quiet(self, p, quiet, fmt)
  local mult = self.t.timeout_multiplier or 1
  local deadline = otahil.now() + (quiet or 0.5) * mult
  while otahil.now() < deadline do
    local r = self:next_report((deadline - otahil.now()) / mult)
    if r and r.plan_id == p.id then fail(self, 3, fmt, p.id, r.event) end
  end
end

-- Asserts that the device says nothing about plan p for `quiet` seconds (a
-- short watch: used where the device must wait for someone else).
function Dev:expect_no_answer(p, quiet)
  watch_quiet(self, p, quiet, "answered plan %s (%s) before it should")
end

-- Asserts that plan p never reached the device: not pushed, and no answer
-- for `quiet` seconds (short: used after the device's otaRequest was seen).
function Dev:expect_no_plan(p, quiet)
  watch_quiet(self, p, quiet, "received plan %s, which must not reach it (%s)")
  local st = self.pending[p.id]
  if st and st.pushed then fail(self, 2, "the cloud pushed plan %s, which must not reach it", p.id) end
end

-- The lab's good image of `version` (default: the first other than the
-- device's own), served: returns version, image (cloud.Dev:good_image). The
-- MCU's images are good images too, of their own versions (the lab names them).
Dev.image = cloud.Dev.good_image

return M
