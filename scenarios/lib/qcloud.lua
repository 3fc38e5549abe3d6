-- qcloud: the Tencent Cloud IoT OTA dialect, cloud side (seed 001).
--
-- Topics: the device publishes on $ota/report/{product}/{device} (report_version,
-- report_progress) and subscribes to $ota/update/{product}/{device}
-- (update_firmware). Progress states: downloading (with percent), burning, done,
-- fail with result_code -1 download timeout, -2 file not found, -3 signature
-- expired, -4 MD5 mismatch, -5 update failed. The SDK sends percent and
-- result_code as strings; numbers are accepted too.
--
-- Every report the device sends goes through Dev:observe, which FAILs at once on
-- what a correct device never does: malformed JSON, percents going backwards,
-- "done" before "burning", "burning" before a reported download reached 100 %.
local cloud = require "cloud"
local M = {}
local Dev = {}
Dev.__index = Dev

M.codes = {
  [-1] = "download timeout",
  [-2] = "file does not exist",
  [-3] = "signature expired",
  [-4] = "MD5 mismatch",
  [-5] = "update failed",
}

local function num(v)
  if type(v) == "number" then return v end
  if type(v) == "string" then return tonumber(v) end
  return nil
end

-- Connects the cloud to the device's topics and powers the device on
-- (opts.power = false leaves it off).
function M.attach(t, opts)
  opts = opts or {}
  local lab = t.device
  local self = setmetatable({ t = t, dev = lab }, Dev)
  self.product, self.name = lab.product, lab.device
  self.up = "$ota/report/" .. lab.product .. "/" .. lab.device
  self.down = "$ota/update/" .. lab.product .. "/" .. lab.device
  local timing = lab.timing or {}
  self.boot_wait = timing.boot or 10          -- power-on to first version report
  self.step_wait = timing.step or 15          -- longest gap between two progress reports
  self.download_timeout = timing.download_timeout or 10
  local mq, err = mqtt.connect { id = "otahil-cloud-" .. lab.device .. "-" .. t.id }
  if not mq then error("cloud: cannot connect to the broker: " .. tostring(err), 2) end
  self.mq = mq
  local ok, why = mq:subscribe(self.up)
  if not ok then error("cloud: subscribe " .. self.up .. ": " .. tostring(why), 2) end
  self:reset()
  self.versions = {}
  self.req_cursor = {} -- image name -> event log position of its last push
  if opts.power ~= false then lab:power_on() end
  return self
end

-- Forgets the progress of the previous upgrade (a new push starts a new one).
function Dev:reset()
  self.percent = -1
  self.states = {}
end

-- Checks one report against what a correct device may say; returns it decoded.
function Dev:observe(msg)
  local r, err = json.decode(msg.payload)
  if type(r) ~= "table" then
    otahil.fail(("device '%s' sent malformed JSON on %s: %s"):format(self.name, msg.topic, err or "not an object"), 3)
  end
  if r.type == "report_version" then
    local v = type(r.report) == "table" and r.report.version
    if type(v) ~= "string" then
      otahil.fail(("device '%s': report_version without a version string on %s"):format(self.name, msg.topic), 3)
    end
    self.versions[#self.versions + 1] = v
    r.version = v
  elseif r.type == "report_progress" then
    local p = type(r.report) == "table" and r.report.progress
    if type(p) ~= "table" or type(p.state) ~= "string" then
      otahil.fail(("device '%s': report_progress without report.progress.state"):format(self.name), 3)
    end
    r.state, r.version = p.state, r.report.version
    r.code, r.result_msg = num(p.result_code), p.result_msg
    if p.state == "downloading" then
      local pc = num(p.percent)
      if not pc or pc < 0 or pc > 100 then
        otahil.fail(("device '%s': downloading percent %s is not 0..100"):format(self.name, tostring(p.percent)), 3)
      end
      if pc < self.percent then
        otahil.fail(("device '%s': download progress went backwards: %d%% after %d%%"):format(self.name, pc, self.percent), 3)
      end
      self.percent, r.percent = pc, pc
    elseif p.state == "burning" then
      -- a device whose breakpoint already holds the whole file may burn
      -- without a download report; a download that was reported must end at 100
      if self.percent ~= 100 and self.percent ~= -1 then
        otahil.fail(("device '%s': burning reported but the download progress stopped at %d%%"):format(self.name, self.percent), 3)
      end
    elseif p.state == "done" then
      if not self.states.burning then
        otahil.fail(("device '%s': done reported before burning"):format(self.name), 3)
      end
    end
    self.states[p.state] = true
  end
  return r
end

-- The next report of the device (decoded and checked), or nil on timeout.
function Dev:next_report(timeout)
  local msg = self.mq:next(self.up, { timeout = timeout })
  if not msg then return nil end
  return self:observe(msg)
end

-- Waits for a report for which pred(r) is true; `what` names it in the FAIL.
function Dev:wait_for(pred, timeout, what, level)
  local r = cloud.wait_for(self, pred, timeout, what, (level or 2) + 1,
                           function(l) return l.state or l.type end)
  return r
end

-- Waits until the device reports `version`. opts.strict: any other version FAILs.
function Dev:expect_version(version, opts)
  opts = opts or {}
  local r = self:wait_for(function(r)
    if r.type ~= "report_version" then return false end
    if r.version == version then return true end
    if opts.strict then
      return ("device '%s' reported version %s, expected %s"):format(self.name, r.version, version)
    end
    return false
  end, opts.timeout or self.boot_wait, "report_version " .. version, 2)
  return r -- not a tail call: FAIL messages point at the scenario's line
end

-- Waits for a progress state ("downloading", "burning", "done"); a "fail" FAILs.
function Dev:expect_progress(opts)
  local want = assert(opts.state, "expect_progress: state = ... is required")
  local r = self:wait_for(function(r)
    if r.type ~= "report_progress" then return false end
    if r.state == "fail" and want ~= "fail" then
      return ("device '%s': upgrade failed with result_code %s (%s) while %s was expected"):format(
        self.name, tostring(r.code), tostring(r.result_msg), want)
    end
    return r.state == want
  end, opts.timeout or self.step_wait, "progress state " .. want, 2)
  return r -- not a tail call: FAIL messages point at the scenario's line
end

-- Waits for state "fail" with result_code `code`; "done" or another code FAILs.
function Dev:expect_fail(opts)
  local code = assert(opts.code, "expect_fail: code = ... is required")
  local r = self:wait_for(function(r)
    if r.type ~= "report_progress" then return false end
    if r.state == "done" then
      return ("device '%s' reported done, but result_code %d (%s) was expected"):format(self.name, code, M.codes[code] or "?")
    end
    if r.state ~= "fail" then return false end
    if r.code ~= code then
      return ("device '%s' reported result_code %s (%s), expected %d (%s)"):format(
        self.name, tostring(r.code), tostring(r.result_msg), code, M.codes[code] or "?")
    end
    return true
  end, opts.timeout or self.step_wait, "failure " .. code, 2)
  return r -- not a tail call: FAIL messages point at the scenario's line
end

-- Publishes update_firmware. opts: image (from t.fw:serve), version, and
-- overrides md5, size, url (to send wrong values on purpose).
function Dev:push_update(opts)
  local img = assert(opts.image, "push_update: image = t.fw:serve(...) is required")
  self:reset()
  local msg = {
    type = "update_firmware",
    file_size = opts.size or img.size,
    md5sum = opts.md5 or img.md5,
    url = opts.url or img.url,
    version = assert(opts.version, "push_update: version is required"),
  }
  if img.name then self.req_cursor[img.name] = otahil.cursor() end
  local ok, err = self.mq:publish(self.down, json.encode(msg), { qos = 1 })
  if not ok then error("cloud: publish update_firmware: " .. tostring(err), 2) end
  return msg
end

-- The lab's good image for a version other than the one the device starts with:
-- returns version, served image.
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

-- A full, correct upgrade to `version` with the served image `img`.
function Dev:upgrade(version, img)
  self:push_update { image = img, version = version }
  self:expect_progress { state = "downloading" }
  self:expect_progress { state = "burning" }
  self:expect_progress { state = "done" }
  self:expect_version(version)
end

-- Cuts power (opts.graceful as t.device:power_off) and forgets the reports
-- the device sent before, so the next expect_* sees what it says after power
-- on. The reports in flight are still checked by observe.
function Dev:power_off(opts)
  self.dev:power_off(opts)
  while self:next_report(0.05) do end
end

-- Power off and on again, as a lab engineer pulls the plug.
function Dev:power_cycle(off_for)
  self:power_off()
  if off_for and off_for > 0 then otahil.sleep(off_for) end
  self.dev:power_on()
end

-- Network faults on the firmware download. With the harness's proxies (t.net)
-- they happen on the wire; without them the firmware server does the same at
-- the source (it closes the connection, or holds the answer back), which the
-- device cannot tell apart from a cut or a stalled link.

-- The next response for `img` is cut after `at` body bytes, once.
function Dev:cut_download(img, at)
  local net = self.t.net
  if net then net.http:cut { at_body_byte = at, times = 1 }
  else self.t.fw:fault(img, { truncate_after = at, times = 1 }) end
end

-- Arms a stall: the download of `img` stops after `at` body bytes and the link
-- stays silent (until clear_faults). Call before push_update, then hold_reached.
function Dev:stall_download(img, at)
  local net = self.t.net
  if net then net.http:stall { after_body_byte = at }
  elseif at == 0 then self.t.fw:fault(img, { delay = 600 })
  else self.t.fw:fault(img, { truncate_after = at, times = 1 }) end
  self.stalled = { img = img, at = at }
end

-- Waits until the device holds the first `at` bytes of the stalled download
-- (see stall_download) and reports progress that far. FAILs on timeout.
function Dev:hold_reached(timeout)
  local s = assert(self.stalled, "hold_reached: call stall_download first")
  timeout = timeout or self.step_wait
  local net = self.t.net
  if net then
    local ok = net.http:wait_body_bytes(s.at, { timeout = timeout }) -- waits scale it themselves
    if not ok then
      otahil.fail(("device '%s' did not download %d bytes of %s within %gs"):format(self.name, s.at, s.img.name, timeout), 2)
    end
  else
    self:next_request(s.img, timeout)
    -- the cut is done; every later request waits silently, as a stalled link
    self.t.fw:fault(s.img, { delay = 600 })
  end
  -- bytes on the wire are not yet bytes in flash: wait until the device says
  -- it has (about) that much, so a power cut now finds them on its disk
  local want = math.max(1, s.at * 100 // s.img.size - 10)
  self:wait_for(function(r)
    return r.type == "report_progress" and r.state == "downloading" and r.percent >= want
  end, timeout, ("downloading progress >= %d %%"):format(want), 2)
end

-- Removes every fault (network and firmware server) on `img`.
function Dev:clear_faults(img)
  if self.t.net then self.t.net:clear() end
  if img then self.t.fw:fault(img) end
  self.stalled = nil
end

-- The next HTTP request the firmware server answered for `img` since the last
-- push of it (range, status, sent, complete); FAILs when none comes within
-- `timeout` seconds. Requests of earlier pushes are never returned.
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

-- The offset a request's Range asks for ("bytes=N-" -> N), 0 without Range.
function M.range_start(req)
  local r = req and req.range
  if not r then return 0 end
  local n = r:match("^bytes=(%d+)%-")
  return n and tonumber(n) or 0
end

-- The network fault API, or a FAIL-free error naming what is missing.
function M.net(t)
  if not t.net then error("this scenario needs the harness's network faults (t.net)", 2) end
  return t.net
end

-- Publishes raw bytes on the device's update topic (garbage on purpose).
function Dev:push_raw(payload)
  local ok, err = self.mq:publish(self.down, payload, { qos = 1 })
  if not ok then error("cloud: publish raw: " .. tostring(err), 2) end
end

-- Waits for a report_version; returns the version (FAILs on timeout).
function Dev:next_version(timeout)
  local r = self:wait_for(function(r) return r.type == "report_version" end,
    timeout or self.boot_wait, "report_version", 2)
  return r.version
end

return M
