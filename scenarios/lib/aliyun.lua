-- aliyun: the Aliyun IoT Platform OTA dialect, cloud side (seed 003:
-- ../shared/seeds/003_24e63177b54dcf5c.txt, "阿里云OTA升级指南"), and the core
-- that haas.lua (seed 004) shares. Where the seed says less, the vendor's
-- documentation ("OTA升级", "设备端OTA升级", Link SDK C components/ota and
-- components/mqtt_download) is followed, and the rule says so.
--
-- Topics ({pk}/{dn} = the lab's product and device):
--   up    /ota/device/inform/{pk}/{dn}       {"id","params":{"version","module"}}   (one per module;
--                                            no module = "default", the whole firmware)
--   down  /ota/device/upgrade/{pk}/{dn}      {"code":"1000","id","message":"success","data":{size,
--                                            version, isDiff, signMethod "MD5"|"SHA256", sign, md5,
--                                            module, extData, url | dProtocol "mqtt", streamId,
--                                            streamFileId}}
--   up    /ota/device/progress/{pk}/{dn}     {"id","params":{"step","desc","module"}}: step 1..100,
--                                            -1 upgrade failed, -2 download failed, -3 verify failed,
--                                            -4 burn failed
--   up    /sys/{pk}/{dn}/thing/ota/firmware/get         {"id","version":"1.0","params":{"module"}}
--   down  /sys/{pk}/{dn}/thing/ota/firmware/get_reply   {"id","code":200,"data":{as upgrade | {}}}
--   up    /sys/{pk}/{dn}/thing/file/download            {"id","version":"1.0","params":{"fileToken",
--                                            "fileInfo":{"streamId","fileId"},"fileBlock":{"size","offset"}}}
--   down  /sys/{pk}/{dn}/thing/file/download_reply      binary: 2-byte big-endian length of a JSON
--                                            header {"id","code":200,"msg","data":{"fileToken",
--                                            "fileLength","bSize","bOffset"}}, the bSize bytes, and the
--                                            CRC-16/ARC of those bytes, 2 bytes little endian (the Link
--                                            SDK reads them as a native uint16_t on little-endian chips)
-- Success is the new version informed for the module (seed 003: "如果要显示升级成功，
-- 就需要上报当前固件的软件版本"); a 100 step is not required.
--
-- What the platform does on its own (Dev:platform, a background task):
--   * firmware/get (seed 003 names get_reply; the vendor: the platform answers
--     with the package of the device's pending upgrade, else empty data): an
--     upgrade pushed or deployed (d:deploy) for a module is answered until the
--     device informs its target version, reports a failure step for it, or the
--     scenario cancels it (d:cancel(module)).
--   * the MQTT block download: every file/download request is answered from
--     the image's bytes (the block server).
--   * HaaS (seed 004: "只需要向云端上报一个比云端固件版本低的版本即可触发系统固件升级"):
--     see haas.lua; a deployed upgrade with trigger = true is pushed whenever
--     the device informs a lower version of the module, until it informs the
--     target (max_pushes, default 20).
--   * re-push on reconnect (the vendor, 发起升级批次任务: "升级期间若设备多次上下线，
--     触发物联网平台多次推送升级包"): while a pushed upgrade is pending, the
--     device's first inform of the module on a new connection gets the push
--     again.
--   A failure step ends the upgrade for the device (the batch's retry
--   setting "升级失败重试间隔" defaults to no retry): a scenario that needs the
--   upgrade again pushes it, as an operator retries a batch (d:await_retry).
--
-- Rules that FAIL a device (observe and the block server; docs/verdicts.md):
--   json             every message is a JSON object with "params" (seed 003's messages)
--   module           a module, when sent, is a non-empty string
--   inform-version   an inform carries params.version, a non-empty string
--   step-range       a step is 1..100 or one of -1..-4 (vendor: step values)
--   step-backwards   within one download the step never goes down; it may
--                    start lower only when the device really starts over (a
--                    request without Range or a 200 to one; a block request
--                    below the last one) or another upgrade is pushed; after
--                    a 206 resume at byte N the step is at least N/size - 10
--   progress-rate    seed 003 only recommends one progress report per 3 s
--                    ("建议设置设备端上报进度频率为3秒内最多一次"; the cost it names:
--                    the console may not show every report), so by default a
--                    device that reports more often is flagged (a "warning"
--                    event in its log), not failed; a lab's
--                    strict = { "progress-rate" } makes it a FAIL (three
--                    intermediate reports within one interval, the lab's
--                    timing.progress_interval_ms). Final steps (100, failures)
--                    never count.
--   block-size       a block request asks 256..131072 bytes (the last block 1..131072)
--   block-offset     the offset lies in the file, offset + size within it (seed 003's ranges)
--   file-token       a fileToken, when sent, is up to 16 of [A-Za-z0-9_.] (seed 003)
--   strict "block-order": each block request continues the last one or asks it again.
--
-- Lab images: images.good["2.0.0"] are firmware ("default") images; a key
-- "MODULE@VERSION" (e.g. "MCU@1.1.0") is an image of another module. The
-- modules a device has, with their factory versions, are the lab's
-- modules = { MCU = "1.0.0" }.
local cloud = require "cloud"
local M = {}
local Dev = cloud.inherit {}
Dev.__index = Dev

-- The rules a scenario may relax (d:allow{...}; docs/verdicts.md).
Dev.rules = {
  ["step-backwards"] = "a module's step goes down within one download, or below the breakpoint after a resume",
  ["progress-rate"] = "(with the lab's strict progress-rate) three intermediate reports within one interval",
}
M.Dev = Dev

M.steps = {
  [-1] = "upgrade failed",
  [-2] = "download failed",
  [-3] = "verify failed",
  [-4] = "burn failed",
}

-- CRC-16/ARC (polynomial 0x8005 reflected, initial 0), as the Link SDK's crc_ibm.
local crc_table = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if c & 1 == 1 then c = (c >> 1) ~ 0xA001 else c = c >> 1 end
  end
  crc_table[i] = c
end
function M.crc16(s)
  local crc = 0
  for i = 1, #s do
    crc = (crc >> 8) ~ crc_table[(crc ~ s:byte(i)) & 0xFF]
  end
  return crc
end

-- Dotted version order ("1.10.0" > "1.9.0"); non-numeric parts compare as text.
function M.version_less(a, b)
  local pa, pb = {}, {}
  for x in tostring(a):gmatch("[^.]+") do pa[#pa + 1] = x end
  for x in tostring(b):gmatch("[^.]+") do pb[#pb + 1] = x end
  for i = 1, math.max(#pa, #pb) do
    local x, y = pa[i] or "0", pb[i] or "0"
    local nx, ny = tonumber(x), tonumber(y)
    if nx and ny then
      if nx ~= ny then return nx < ny end
    elseif x ~= y then
      return x < y
    end
  end
  return false
end

local function int(v)
  if type(v) == "number" then return math.tointeger(v) end
  if type(v) == "string" and v:match("^%-?%d+$") then return math.tointeger(tonumber(v)) end
  return nil
end

-- Connects the cloud to the device's topics, starts the platform and powers
-- the device on (opts.power = false leaves it off). opts.flavour = "haas" for haas.lua.
function M.attach(t, opts)
  opts = cloud.opts(opts, "aliyun.attach", { "power", "flavour" })
  local self = cloud.new(Dev, t)
  self.flavour = opts.flavour or "aliyun"
  local lab = self.dev
  local pk, dn = lab.product, lab.device
  self.t_inform = "/ota/device/inform/" .. pk .. "/" .. dn
  self.t_upgrade = "/ota/device/upgrade/" .. pk .. "/" .. dn
  self.t_progress = "/ota/device/progress/" .. pk .. "/" .. dn
  self.t_get = "/sys/" .. pk .. "/" .. dn .. "/thing/ota/firmware/get"
  self.t_get_reply = self.t_get .. "_reply"
  self.t_dl = "/sys/" .. pk .. "/" .. dn .. "/thing/file/download"
  self.t_dl_reply = self.t_dl .. "_reply"
  self.up = "#" -- the device's messages: every topic subscribed below
  self.down = self.t_upgrade
  self.interval = ((lab.timing or {}).progress_interval_ms or 3000) / 1000
  self.mq = cloud.connect(self, { self.t_inform, self.t_progress, self.t_get })
  self.versions = {}     -- module -> last informed version
  self.informs = {}      -- every inform, in order: {module=, version=}
  self.dl = {}           -- module -> the current download as the judge sees it (see Dev:track)
  self.report_times = {} -- module -> arrival times of its intermediate progress reports
  self.jobs = {}         -- module -> the pending upgrade (firmware/get, lower-version trigger)
  self.streams = {}      -- streamId -> {img=, bytes=, fileId=, last_off=, next_off=}
  self.block_log = {}    -- every block request: {stream=, offset=, size=, t=}
  self.next_stream = 1000 + (#t.id * 7919) % 100000
  self.msg_id = 0
  self:start_platform()
  if self.flavour ~= "haas" then self:serve_blocks() end
  if opts.power ~= false then self:power_on() end
  return self
end

-- The lab's modules besides "default", with their factory versions, plus
-- "default" at the device's version: what the device informs at boot.
function Dev:all_modules()
  local all = { default = self.dev.version }
  for m, v in pairs(self.modules) do all[m] = v end
  return all
end

-- The first of the lab's modules (sorted), or an error naming the lab key.
function Dev:first_module()
  local names = {}
  for m in pairs(self.modules) do names[#names + 1] = m end
  table.sort(names)
  if not names[1] then
    error(("lab: device '%s' declares no modules (modules = { MCU = \"1.0.0\" })"):format(self.lab_name), 2)
  end
  return names[1], self.modules[names[1]]
end

function Dev:id()
  self.msg_id = self.msg_id + 1
  return tostring(self.msg_id)
end

-- ---- the platform --------------------------------------------------------------

local function decode_quiet(payload)
  local r = json.decode(payload)
  if type(r) ~= "table" or type(r.params) ~= "table" then return nil end
  return r, r.params
end

function Dev:platform(ev, index)
  local r, p = decode_quiet(ev.payload)
  if not r then return end
  local module = type(p.module) == "string" and p.module ~= "" and p.module or "default"
  local job = self.jobs[module]
  if ev.topic == self.t_get then
    self:answer_get(r, module)
  elseif not job or index < job.since then
    return
  elseif ev.topic == self.t_inform and type(p.version) == "string" then
    if p.version == job.opts.version then
      self:end_job(module, "done")
    elseif job.pushed and self:reconnected(job, index) then
      job.pushes = job.pushes + 1
      self:platform_event("repush", { module = module, reported = p.version, version = job.opts.version, count = job.pushes })
      self:send_upgrade(job.opts)
    elseif job.trigger and M.version_less(p.version, job.opts.version) then
      if job.pushes >= (job.opts.max_pushes or 20) then return self:end_job(module, "pushes spent") end
      job.pushes = job.pushes + 1
      self:platform_event("trigger", { module = module, reported = p.version, version = job.opts.version, count = job.pushes })
      self:send_upgrade(job.opts)
    end
  elseif ev.topic == self.t_progress and (int(p.step) or 0) < 0 then
    self:end_job(module, "failed with step " .. tostring(p.step))
  end
end

-- Did the device connect again (a new MQTT connection on its proxy) since
-- the job's last push, before event `index`? Once per connection.
function Dev:reconnected(job, index)
  local from = job.conn_from or job.since
  local ev, cur = otahil.next_event({ kind = "net.open", stream = self.lab_name .. "/mqtt" }, { from = from, timeout = 0 })
  if not ev or cur - 1 >= index then return false end
  job.conn_from = cur
  return true
end

function Dev:end_job(module, why)
  local job = self.jobs[module]
  if not job then return end
  self.jobs[module] = nil
  self:platform_event("job.end", { module = module, version = job.opts.version, why = why })
end

-- The scenario's way to end a module's pending upgrade (the operator cancels it).
function Dev:cancel(module) self:end_job(module or "default", "cancelled") end

function Dev:answer_get(r, module)
  local job = self.jobs[module]
  local data = {}
  if job and self.versions[module] ~= job.opts.version then
    data = self:upgrade_data(job.opts)
    job.pushes = job.pushes + 1
    self:platform_event("get_reply", { module = module, version = job.opts.version })
  end
  local reply = { id = r.id, code = 200, message = "success", data = data }
  local ok, err = self.mq:publish(self.t_get_reply, json.encode(reply), { qos = 1 })
  if not ok then otahil.log("cloud: publish get_reply: " .. tostring(err)) end
end

-- ---- what the device says --------------------------------------------------

local function decode(self, msg)
  local r, err = json.decode(msg.payload)
  if type(r) ~= "table" then
    self:fail(3, "sent malformed JSON on %s: %s", msg.topic, err or "not an object")
  end
  local p = r.params
  if type(p) ~= "table" then self:fail(3, "sent a message without \"params\" on %s", msg.topic) end
  if p.module ~= nil and (type(p.module) ~= "string" or p.module == "") then
    self:fail(3, "sent a module that is not a name on %s", msg.topic)
  end
  return r, p
end

-- The judge's view of module's current download: low (the least step the
-- next report may show), why (what set it: a resume), the image, and the
-- event log cursor of what has been looked at.
function Dev:track(module, img)
  local d = { low = 0, img = img, from = otahil.cursor(), blocks = #self.block_log }
  self.dl[module] = d
  return d
end

-- Applies what the wire saw of module's download before event `upto`: HTTP
-- starts (a 206 at byte N: the step continues from N/size; a start from 0
-- allows anything) and MQTT block requests below the last one (a restart).
function Dev:see_downloads(module, upto)
  local d = self.dl[module]
  if not d or not d.img or not d.img.size or d.img.size <= 0 then return end
  local size = d.img.size
  d.from = self:download_starts(d.img, d.from, function(start, status)
    if status == 206 and start > 0 then
      d.low = math.max(0, start * 100 // size - 10)
      d.why = ("it resumed at byte %d of %d (%d %%)"):format(start, size, start * 100 // size)
    else
      d.low, d.why = 0, nil
    end
  end, upto)
  for i = d.blocks + 1, #self.block_log do
    local b = self.block_log[i]
    if d.last_block and b.offset < d.last_block then d.low, d.why = 0, nil end
    d.last_block = b.offset
  end
  d.blocks = #self.block_log
end

function Dev:check_rate(module, step, msg)
  if step <= 0 or step >= 100 then return end -- final and failure steps always go
  local times = self.report_times[module] or {}
  times[#times + 1] = msg.t
  self.report_times[module] = times
  -- Arrival times are the harness's: a loaded machine may hold one report
  -- back and deliver it with the next, so two close ones prove nothing;
  -- three within one interval cannot come from a device that keeps it.
  if #times < 3 or msg.t - times[#times - 2] >= self.interval then return end
  local text = ("reported progress of module %s 3 times within %.2f s on %s (seed 003 recommends at most one per %g s)")
    :format(module, msg.t - times[#times - 2], msg.topic, self.interval)
  if self.strict["progress-rate"] then self:rule("progress-rate", "%s (strict progress-rate)", text) end
  if not self.rate_warned then self:warn("%s", text) end
  self.rate_warned = true
end

function Dev:observe_progress(r, p, msg, module)
  local step = int(p.step)
  -- 0 is "started": Aliyun's own C SDK reports step "0" ("Enter in downloading
  -- state", iotkit-embedded iotx_ota.c); seed 003 shows only -1 and names no range
  if not step or not ((step >= 0 and step <= 100) or M.steps[step]) then
    self:fail(3, "progress step %s on %s is neither 0..100 nor -1..-4", tostring(p.step), msg.topic)
  end
  if p.desc ~= nil and type(p.desc) ~= "string" then
    self:fail(3, "progress desc on %s is not a string", msg.topic)
  end
  self:check_rate(module, step, msg)
  if step > 0 then
    self:see_downloads(module, msg.index)
    local d = self.dl[module] or self:track(module)
    if step < d.low and d.why then
      self:rule("step-backwards",
        "reported step %d of module %s after %s: its progress must continue from the breakpoint (at least %d)",
        step, module, d.why, d.low)
    elseif step < d.low then
      self:rule("step-backwards", "progress of module %s went backwards: step %d after %d", module, step, d.low)
    end
    d.low, d.why = step, nil
  end
  r.kind, r.step, r.desc = "progress", step, p.desc
end

-- Checks one message of the device against what a correct device may say;
-- returns it decoded, with kind = "inform" | "progress" | "get".
function Dev:observe(msg)
  self:raise_deferred()
  local r, p = decode(self, msg)
  local module = p.module or "default"
  r.module, r.topic, r.t = module, msg.topic, msg.t
  if msg.topic == self.t_inform then
    if type(p.version) ~= "string" or p.version == "" then
      self:fail(3, "inform without a version string on %s", msg.topic)
    end
    r.kind, r.version = "inform", p.version
    self.versions[module] = p.version
    self.informs[#self.informs + 1] = { module = module, version = p.version, t = msg.t }
  elseif msg.topic == self.t_progress then
    self:observe_progress(r, p, msg, module)
  elseif msg.topic == self.t_get then
    r.kind = "get"
  else
    self:fail(3, "sent a message on the unexpected topic %s", msg.topic)
  end
  return r
end

-- A FAIL found by a background task (the block server) is raised at the
-- scenario's line by the judge's next look.
function Dev:defer_fail(fmt, ...)
  if not self.deferred then self.deferred = self:who() .. ": " .. fmt:format(...) end
end

function Dev:raise_deferred()
  if self.deferred then otahil.fail(self.deferred, 4) end
end

-- A message in a few words, with its content, for a FAIL on timeout.
function Dev:describe(r)
  if r.kind == "inform" then return ("inform %s %s"):format(r.module, tostring(r.version)) end
  if r.kind == "progress" then
    return ("progress %s step %d%s"):format(r.module, r.step, r.step < 0 and (" (" .. tostring(r.desc) .. ")") or "")
  end
  return r.kind .. " (" .. r.module .. ")"
end

function Dev:percent_of(r) return r.kind == "progress" and r.step > 0 and r.step or nil end

-- Waits until the device informs `version` for opts.module (default
-- "default"). opts.strict: another version of that module FAILs; a negative
-- step FAILs unless opts.allow_fail.
function Dev:expect_version(version, opts)
  opts = cloud.opts(opts, "expect_version", { "module", "strict", "allow_fail", "timeout" })
  local module = opts.module or "default"
  local r = self:wait_for(function(r)
    if r.kind == "progress" and r.step < 0 and not opts.allow_fail then
      return ("%s: step %d (%s: %s) while waiting for module %s to inform %s"):format(
        self:who(), r.step, M.steps[r.step], tostring(r.desc), module, version)
    end
    if r.kind ~= "inform" or r.module ~= module then return false end
    if r.version == version then return true end
    if opts.strict then
      return ("%s informed module %s at version %s, expected %s"):format(self:who(), module, r.version, version)
    end
    return false
  end, opts.timeout or self.boot_wait, ("inform of module %s at version %s"):format(module, version), 2)
  return r -- not a tail call: FAIL messages point at the scenario's line
end

-- Waits for the end of an upgrade of opts.module to `version`: the new
-- version informed (seed 003's success), the progress on the way checked by
-- observe; a failure step FAILs. opts.timeout (default boot + step + the
-- download timeout: a download, a reboot, a connect).
function Dev:expect_upgraded(version, opts)
  opts = cloud.opts(opts, "expect_upgraded", { "module", "timeout" })
  local r = self:expect_version(version, { module = opts.module,
    timeout = opts.timeout or (self.boot_wait + self.step_wait + self.download_timeout) })
  return r
end

-- Waits for a progress step >= opts.step (1..100) of opts.module; a failure FAILs.
function Dev:expect_progress(opts)
  cloud.opts(opts, "expect_progress", { "step", "module", "timeout" })
  local want = assert(opts.step, "expect_progress: step = ... is required")
  local module = opts.module or "default"
  local r = self:wait_for(function(r)
    if r.kind ~= "progress" or r.module ~= module then return false end
    if r.step < 0 then
      return ("%s: step %d (%s: %s) while step %d was expected"):format(
        self:who(), r.step, M.steps[r.step], tostring(r.desc), want)
    end
    return r.step >= want
  end, opts.timeout or self.step_wait, ("progress step %d of module %s"):format(want, module), 2)
  return r
end

-- Waits for the failure step opts.step of opts.module. Another failure step,
-- or the target version (opts.version) informed, FAILs.
function Dev:expect_fail(opts)
  cloud.opts(opts, "expect_fail", { "step", "module", "version", "timeout" })
  local step = assert(opts.step, "expect_fail: step = ... is required")
  local module = opts.module or "default"
  local r = self:wait_for(function(r)
    if r.kind == "inform" and r.module == module and opts.version and r.version == opts.version then
      return ("%s informed %s %s, but step %d (%s) was expected"):format(
        self:who(), module, r.version, step, M.steps[step])
    end
    if r.kind ~= "progress" or r.module ~= module or r.step >= 0 then return false end
    if r.step ~= step then
      return ("expected step %d (%s), %s reported step %d (%s: %s) at %.2f s"):format(
        step, M.steps[step], self:who(), r.step, M.steps[r.step], tostring(r.desc), r.t or 0)
    end
    return true
  end, opts.timeout or self.step_wait, ("step %d of module %s"):format(step, module), 2)
  return r
end

-- Waits for an inform of every module in `versions` ({module = version};
-- default: every module at its factory version, self:all_modules()), as a
-- device informs them after it connects; returns the versions informed.
function Dev:expect_informs(versions, timeout)
  versions = versions or self:all_modules()
  local seen = {}
  self:wait_for(function(r)
    if r.kind == "progress" and r.step < 0 then
      return ("%s: step %d (%s: %s) while waiting for the informs of every module"):format(
        self:who(), r.step, M.steps[r.step], tostring(r.desc))
    end
    if r.kind == "inform" and versions[r.module] then
      if r.version ~= versions[r.module] then
        return ("%s informed module %s at %s, expected %s"):format(self:who(), r.module, r.version, versions[r.module])
      end
      seen[r.module] = r.version
    end
    for m in pairs(versions) do if not seen[m] then return false end end
    return true
  end, timeout or self.boot_wait, "informs of every module", 2)
  return seen
end

-- ---- what the cloud says ---------------------------------------------------

-- The upgrade message's data for opts (see push_update).
function Dev:upgrade_data(opts)
  local img = assert(opts.image, "push: image = t.fw:serve(...) is required")
  local method = opts.method or ((opts.via == "mqtt") and "SHA256" or "MD5")
  local data = {
    size = opts.size or img.size,
    version = assert(opts.version, "push: version is required"),
    isDiff = 0,
    signMethod = method,
    sign = opts.sign or (method:upper() == "SHA256" and img.sha256 or (opts.md5 or img.md5)),
    md5 = opts.md5 or img.md5,
    module = opts.module or "default",
    extData = opts.extData or { otahil = "1" },
  }
  if opts.via == "mqtt" then
    self.next_stream = self.next_stream + 1
    data.dProtocol = "mqtt"
    data.streamId = self.next_stream
    data.streamFileId = 1
    self.streams[data.streamId] = { img = img, fileId = 1, bytes = self.t.fw:read(img) }
  else
    data.url = opts.url or img.url
  end
  return data
end

-- Publishes an upgrade message for opts (the platform's part of a push).
function Dev:send_upgrade(opts)
  self:await_subscribed(self.t_upgrade, self.step_wait)
  local data = self:upgrade_data(opts)
  self:track(data.module, opts.image)
  local msg = { code = "1000", id = self:id(), message = "success", data = data }
  local ok, err = self.mq:publish(self.t_upgrade, json.encode(msg), { qos = 1 })
  return data, ok, err
end

-- Publishes an upgrade and makes it the module's pending upgrade (answered
-- to firmware/get, see the top). opts: image (t.fw:serve), version, module
-- ("default"), via "http" (default) | "mqtt", method "MD5" | "SHA256"
-- (default: MD5 over http, SHA256 over mqtt), and overrides md5, sign, size,
-- url to send wrong values on purpose. Returns the data sent.
local PUSH_KEYS = { "image", "version", "module", "via", "method", "md5", "sign", "size", "url", "extData", "trigger" }

function Dev:push_update(opts)
  cloud.opts(opts, "push_update", PUSH_KEYS)
  local module = opts.module or "default"
  self:end_job(module, "replaced by a new push")
  self.jobs[module] = { opts = opts, pushes = 0, since = otahil.cursor(), pushed = true }
  if opts.image.name then self.req_cursor[opts.image.name] = otahil.cursor() end
  self.report_times[module] = nil
  local data, ok, err = self:send_upgrade(opts)
  if not ok then error("cloud: publish upgrade: " .. tostring(err), 2) end
  return data
end

-- Deploys an upgrade for a module without pushing it: the platform answers
-- the device's firmware/get with it and (opts.trigger, HaaS's rule) pushes it
-- whenever the device informs a lower version of that module. opts as push_update.
function Dev:deploy(opts)
  cloud.opts(opts, "deploy", PUSH_KEYS)
  local module = opts.module or "default"
  self:end_job(module, "replaced by a new deployment")
  self.jobs[module] = { opts = opts, pushes = 0, trigger = opts.trigger, since = otahil.cursor() }
end

-- Publishes raw bytes on one of the device's downlink topics (garbage on
-- purpose): topic "upgrade" (default), "get_reply" or "download_reply".
function Dev:push_raw(payload, which)
  local topic = ({ upgrade = self.t_upgrade, get_reply = self.t_get_reply, download_reply = self.t_dl_reply })[which or "upgrade"]
  local ok, err = self.mq:publish(assert(topic, "push_raw: unknown topic"), payload, { qos = 1 })
  if not ok then error("cloud: publish raw: " .. tostring(err), 2) end
end

-- After a fault broke the download of `img` (pushed with `opts`): waits for
-- the device's next request for img. A device may retry by itself, or report
-- a failure step and wait: then the scenario, as an operator retrying the
-- batch, pushes the same upgrade again (at most opts.retries times, default
-- 3). Returns the request (cloud.Dev:next_request's). FAILs when neither a
-- request nor a failure comes within step_wait.
function Dev:await_retry(img, opts)
  local mult = self.t.timeout_multiplier or 1
  local module = opts.module or "default"
  local stream = self.lab_name .. "/http"
  local pushes = 0
  local from = math.max(self.req_cursor[img.name] or 0, self.req_from)
  local deadline = otahil.now() + self.step_wait * mult
  while otahil.now() < deadline do
    local req, cur = otahil.next_event({ kind = "http.request", stream = stream }, { from = from, timeout = 0 })
    if req then
      from = cur
      if req.path and cloud.is_image_path(req.path, img) then return self:next_request(img, { level = 3 }) end
    else
      local r = self:next_report(0.1)
      if r and r.kind == "progress" and r.module == module and r.step < 0 then
        if pushes >= (opts.retries or 3) then break end
        pushes = pushes + 1
        otahil.log(("the device reported step %d and waits: the operator pushes the upgrade again"):format(r.step))
        self:push_update(opts)
        from = self.req_cursor[img.name]
        deadline = otahil.now() + self.step_wait * mult
      end
    end
  end
  self:fail(2, "did not download %s again within %gs after the break (%d re-pushes after failure steps)",
    img.name, self.step_wait, pushes)
end

-- ---- the MQTT block download ----------------------------------------------

-- A block server: its own client (each client has one cursor), a background
-- task that answers every download request from the lab's image bytes.
function Dev:serve_blocks()
  local id = "otahil-blocks-" .. self.name .. "-" .. self.t.id
  local blk, err = mqtt.connect { id = id }
  if not blk then error("cloud: block server cannot connect: " .. tostring(err), 3) end
  local ok, why = blk:subscribe(self.t_dl)
  if not ok then error("cloud: subscribe " .. self.t_dl .. ": " .. tostring(why), 3) end
  self.blk = blk
  otahil.spawn(function()
    while true do
      local msg = blk:next(self.t_dl, { timeout = 3600 })
      if msg then self:serve_block(msg) end
    end
  end)
end

-- Checks a block request (seed 003's ranges); returns sid, fid, size, off,
-- token, or nil after deferring a FAIL.
function Dev:check_block(msg)
  local r, p = json.decode(msg.payload), nil
  if type(r) == "table" then p = r.params end
  if type(p) ~= "table" or type(p.fileInfo) ~= "table" or type(p.fileBlock) ~= "table" then
    return self:defer_fail("download request without params.fileInfo/fileBlock on %s", msg.topic)
  end
  local info, blk = p.fileInfo, p.fileBlock
  local sid, fid, size, off = int(info.streamId), int(info.fileId), int(blk.size), int(blk.offset)
  if not (sid and fid and size and off) then
    return self:defer_fail("download request with a non-integer streamId, fileId, size or offset on %s", msg.topic)
  end
  local token = p.fileToken
  if token ~= nil and (type(token) ~= "string" or #token > 16 or token:find("[^%w_.]")) then
    return self:defer_fail("fileToken %s on %s is not up to 16 of [A-Za-z0-9_.]", tostring(token), msg.topic)
  end
  return r, sid, fid, size, off, token
end

function Dev:serve_block(msg)
  local r, sid, fid, size, off, token = self:check_block(msg)
  if not r then return end
  local st = self.streams[sid]
  local function reply(code, text, bytes)
    local header = json.encode { id = r.id, code = code, msg = text,
      data = { fileToken = token, fileLength = st and st.img.size or 0, bSize = bytes and #bytes or 0, bOffset = off } }
    local frame = string.pack(">s2", header) .. (bytes or "") .. string.pack("<I2", M.crc16(bytes or ""))
    self.blk:publish(self.t_dl_reply, frame, { qos = 1 })
  end
  if not st or fid ~= st.fileId then return reply(404, "no such stream or file") end
  local total = st.img.size
  if off < 0 or off >= total or off + size > total then
    self:defer_fail("asked for block offset=%d size=%d of a %d-byte file on %s", off, size, total, msg.topic)
    return reply(400, "block outside the file")
  end
  if size > 131072 or (size < 256 and off + size ~= total) or size < 1 then
    self:defer_fail("asked for a block of %d bytes on %s (256..131072, the last one may be smaller)", size, msg.topic)
    return reply(400, "block size out of range")
  end
  if self.strict["block-order"] and st.last_off and off ~= st.last_off and off ~= st.next_off then
    self:defer_fail("asked for block offset=%d on %s after block [%d, %d): %s of %d bytes (strict block-order)",
      off, msg.topic, st.last_off, st.next_off, off > st.next_off and "a gap" or "an overlap",
      math.abs(off - st.next_off))
  end
  st.last_off, st.next_off = off, off + size
  self.block_log[#self.block_log + 1] = { stream = sid, offset = off, size = size, t = msg.t }
  reply(200, "success", st.bytes:sub(off + 1, off + size))
end

-- The block requests of stream `sid` (all streams when nil), in order.
function Dev:blocks(sid)
  local out = {}
  for _, b in ipairs(self.block_log) do
    if not sid or b.stream == sid then out[#out + 1] = b end
  end
  return out
end

-- ---- images, power, faults -------------------------------------------------

-- The lab's good image of `module` ("default" when nil) at `version` (the
-- first other than the running one when nil): returns version, served image.
function Dev:good_image(version, module)
  local good = (self.dev.images or {}).good or {}
  local running = module and self.modules[module] or self.dev.version
  local candidates = {}
  for key in pairs(good) do
    local m, v = key:match("^(.-)@(.+)$")
    if not m then m, v = "default", key end
    if m == (module or "default") and (version == nil or v == version) and (version or v ~= running) then
      candidates[#candidates + 1] = { key = key, version = v }
    end
  end
  table.sort(candidates, function(a, b) return a.key < b.key end)
  local c = candidates[1]
  if not c then
    error(("lab: device '%s' declares no good image of module %s%s (images.good[\"%s\"])"):format(
      self.lab_name, module or "default", version and (" at " .. version) or "",
      module and (module .. "@VERSION") or "VERSION"), 2)
  end
  return c.version, self.t.fw:serve(good[c.key])
end

-- A full, correct upgrade of opts.module (default "default") to `version`.
function Dev:upgrade(version, img, opts)
  opts = cloud.opts(opts, "upgrade", { "module", "via", "method" })
  self:push_update { image = img, version = version, module = opts.module, via = opts.via, method = opts.method }
  self:expect_upgraded(version, { module = opts.module })
end

-- Cuts power and forgets what the device said before (still checked), as
-- cloud.Dev:power_off does, and starts the progress clock anew.
function Dev:power_off(opts)
  cloud.Dev.power_off(self, opts)
  self.report_times = {}
end

M.range_start, M.net = cloud.range_start, cloud.net

-- ---- the device's MQTT login (one device, one secret) ---------------------------

local SIGN = { hmacsha1 = "sha1", hmacsha256 = "sha256", hmacmd5 = "md5" }

-- Checks a device's MQTT CONNECT credentials the way Aliyun IoT signs them
-- (help.aliyun.com "MQTT-TCP连接通信", documents 73742 / 63656, and aliyun/
-- iotkit-embedded): client id "id|securemode=2|3,signmethod=hmacsha1|hmacsha256|
-- hmacmd5[,timestamp=ms]|"; user name "deviceName&productKey"; password hex
-- HMAC(device secret as given, "clientId{id}deviceName{dn}productKey{pk}
-- [timestamp{ms}]"): the fields sorted by name, each name then its value. The
-- timestamp is signed, not checked against the clock (the lenient reading: the
-- docs give no window). o: client_id, username, password, product, device,
-- secret. Returns true, or false and why.
function M.check_login(o)
  local cid = tostring(o.client_id or "")
  local id, params = cid:match("^([^|]+)|(.*)|$")
  if not id then return false, ("client id %q is not \"id|securemode=...,signmethod=...|\""):format(cid) end
  local p = {}
  for k, v in params:gmatch("([^,=]+)=([^,]*)") do p[k] = v end
  if p.securemode ~= "2" and p.securemode ~= "3" then
    return false, ("securemode %s, expected 2 (TLS) or 3 (TCP)"):format(tostring(p.securemode))
  end
  local alg = SIGN[p.signmethod or ""]
  if not alg then return false, ("signmethod %s is not hmacsha1, hmacsha256 or hmacmd5"):format(tostring(p.signmethod)) end
  local want_user = o.device .. "&" .. o.product
  if o.username ~= want_user then
    return false, ("user name %q, expected %q (deviceName&productKey)"):format(tostring(o.username), want_user)
  end
  local content = "clientId" .. id .. "deviceName" .. o.device .. "productKey" .. o.product
    .. (p.timestamp and ("timestamp" .. p.timestamp) or "")
  if digest.hmac(alg, o.secret, content) ~= tostring(o.password or ""):lower() then
    return false, ("wrong %s signature of %q"):format(p.signmethod, content)
  end
  return true
end

-- The platform's login policy (the lab's auth = "platform", see qcloud.login):
-- a wrong signature is refused with CONNACK 4 (bad user name or password).
M.login = cloud.login_policy("aliyun", M.check_login)

return M
