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
--
-- next_report, wait_for, power_off, power_cycle, good_image, bad_image,
-- push_raw and next_request are cloud.Dev's (scenarios/lib/cloud.lua).
local cloud = require "cloud"
local M = {}
local Dev = cloud.inherit {}
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
  local self = cloud.new(Dev, t)
  local lab = self.dev
  self.up = "$ota/report/" .. lab.product .. "/" .. lab.device
  self.down = "$ota/update/" .. lab.product .. "/" .. lab.device
  self.download_timeout = (lab.timing or {}).download_timeout or 10
  self.mq = cloud.connect(self, { self.up })
  self:reset()
  self.versions = {}
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

-- A report in a few words, for a FAIL on timeout (cloud.Dev:wait_for).
function Dev:describe(r) return r.state or r.type end

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

-- A full, correct upgrade to `version` with the served image `img`.
function Dev:upgrade(version, img)
  self:push_update { image = img, version = version }
  self:expect_progress { state = "downloading" }
  self:expect_progress { state = "burning" }
  self:expect_progress { state = "done" }
  self:expect_version(version)
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

M.range_start, M.net = cloud.range_start, cloud.net

-- Waits for a report_version; returns the version (FAILs on timeout).
function Dev:next_version(timeout)
  local r = self:wait_for(function(r) return r.type == "report_version" end,
    timeout or self.boot_wait, "report_version", 2)
  return r.version
end

return M
