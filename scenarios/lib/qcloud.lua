-- qcloud: the Tencent Cloud IoT OTA dialect, cloud side. Every rule below
-- comes from seed 001 (../shared/seeds/001_2e2dafa034625e10.txt, "设备固件升级");
-- docs/verdicts.md lists them with the seed's sentences.
--
-- Topics: the device publishes on $ota/report/{product}/{device} (report_version,
-- report_progress) and subscribes to $ota/update/{product}/{device}
-- (update_firmware). Progress states: downloading (with percent), burning, done,
-- fail with result_code -1 download timeout, -2 file not found, -3 signature
-- expired, -4 MD5 mismatch, -5 update failed. The SDK sends percent and
-- result_code as strings; numbers are accepted too.
--
-- What the platform does on its own (Dev:platform, in a background task):
--   re-push. "设备侧report设备的版本，如果上报的版本号与要升级的目标版本号不一致，
--   则平台会再次下发固件升级消息" and "弱网环境下第3步到第6步有可能会多次执行，没有执行
--   第7步，执行第3步，设备端都会收到第4步的消息": while an upgrade task is pending,
--   every report_version of another version than the target gets the same
--   update_firmware again, until the device reports done (step 7). Each is a
--   "cloud" event with action = "repush" and its count. A fail report does
--   not end the task (the seed ends it at step 7 only; the Tencent SDK sample
--   reports fail -1 and then fail -5 after a broken download, re-reports its
--   version and waits for this re-push). A task ends when the target version
--   is reported (done), when another version is reported after done (a
--   rollback), when the scenario cancels it (d:cancel(), the operator's
--   cancel in the console) or after max_pushes re-pushes (default 10).
--
-- Rules that FAIL a device (observe, at once, at the scenario's line):
--   json            every message on $ota/report is a JSON object (the seed's messages are JSON)
--   version         report_version carries report.version, a string (step 1)
--   progress-shape  report_progress carries report.progress.state (steps 5-7)
--   percent-range   a downloading percent is 0..100 ("当前下载进度百分比")
--   progress-backwards  within one download the percent never goes down; it
--                   may start lower only when the device really starts over:
--                   a request without Range, a 200 to a ranged request (the
--                   server ignored Range), or another firmware pushed
--   resume-percent  after a 206 resume at byte N the percent is at least
--                   N/size - 10 points: the device continues from its
--                   breakpoint ("基于断点继续下载"), so its progress does too
--   done-after-burning  done only after burning (step 6 "当设备下载完固件，设备需要
--                   ...上报一条开始升级的消息", then step 7)
-- Not rules (the seed does not ask them): a 100 % report before burning (a
-- device may rate-limit its reports), a downloading report at all for a
-- download the device already held, a retry without a new push (the SDK
-- sample reports fail -1 and waits for the re-push), a reboot after done, a
-- version report after an MQTT reconnect (the SDK sample reports it once per
-- upgrade attempt), a Range header of a particular form (the SDK sends
-- "bytes=N-size", also from 0).
--
-- next_report, wait_for, power_off, power_on, power_cycle, good_image,
-- bad_image, push_raw, next_request and the fault helpers (cut_download,
-- stall_download, hold_reached, clear_faults) are cloud.Dev's
-- (scenarios/lib/cloud.lua).
local cloud = require "cloud"
local M = {}
local Dev = cloud.inherit {}
Dev.__index = Dev

-- The rules a scenario may relax (d:allow{...}; docs/verdicts.md, seed 001).
Dev.rules = {
  ["percent-range"] = "a downloading percent outside 0..100",
  ["progress-backwards"] = "the percent goes down within one download",
  ["resume-percent"] = "after a 206 resume at byte N, a percent below N/size - 10 points",
  ["done-after-burning"] = "done before burning",
}

M.codes = {
  [-1] = "download timeout",
  [-2] = "file does not exist",
  [-3] = "signature expired",
  [-4] = "MD5 mismatch",
  [-5] = "update failed",
}

-- Fail reports that do not end an upgrade while its task is pending: -1,
-- the download timeout of the weak-network flow the re-push exists for, and
-- -5, which the Tencent SDK sample sends after every failed download attempt
-- (IOT_OTA_ReportUpgradeFail after the -1) before it re-reports its version.
local RETRYABLE = { [-1] = true, [-5] = true }

local function num(v)
  if type(v) == "number" then return v end
  if type(v) == "string" then return tonumber(v) end
  return nil
end

-- Connects the cloud to the device's topics, starts the platform and powers
-- the device on (opts.power = false leaves it off).
function M.attach(t, opts)
  opts = cloud.opts(opts, "qcloud.attach", { "power" })
  local self = cloud.new(Dev, t)
  local lab = self.dev
  self.up = "$ota/report/" .. lab.product .. "/" .. lab.device
  self.down = "$ota/update/" .. lab.product .. "/" .. lab.device
  self.mq = cloud.connect(self, { self.up })
  self:reset()
  self.versions = {}
  self:start_platform()
  if opts.power ~= false then self:power_on() end
  return self
end

-- Forgets the progress of the previous upgrade (a new push starts a new one).
function Dev:reset()
  self.low, self.low_why = -1, nil -- the least percent the next report may show
  self.states = {}
  self.dl_from = otahil.cursor()
end

-- ---- the platform ------------------------------------------------------------

-- Ends the pending task (d:cancel() is the scenario's way: the operator
-- cancels the upgrade in the console).
function Dev:end_task(why)
  local task = self.task
  if not task or task.state ~= "pending" then return end
  task.state = why
  self:platform_event("task.end", { version = task.version, why = why, pushes = task.pushes })
end

function Dev:cancel() self:end_task("cancelled") end

function Dev:platform(ev, index)
  local task = self.task
  if not task or task.state ~= "pending" or index < task.since then return end
  local r = json.decode(ev.payload)
  if type(r) ~= "table" or type(r.report) ~= "table" then return end
  if r.type == "report_version" then
    local v = r.report.version
    if v == task.version then
      self:end_task("done")
    elseif task.done then
      self:end_task("rolled back")
    elseif task.pushes >= task.max then
      self:end_task("re-pushes spent")
    else
      task.pushes = task.pushes + 1
      local ok, err = self.mq:publish(self.down, task.payload, { qos = 1 })
      self:platform_event("repush", { version = task.version, count = task.pushes,
                                      reported = tostring(v), ok = ok and true or false, err = err })
    end
  elseif r.type == "report_progress" and type(r.report.progress) == "table" then
    local p = r.report.progress
    -- a done for the task's firmware; a device that finishes the download of a
    -- firmware the operator replaced says done with that one's version
    -- (report.version: seed 001 step 7), which leaves the task pending
    if p.state == "done" and (r.report.version == nil or r.report.version == task.version) then
      task.done = true
    end
  end
end

-- ---- what the device says ------------------------------------------------------

-- Applies the downloads of the pending task's image that started since the
-- last look (the proxy saw them): a Range resume sets the least percent the
-- device may report (its breakpoint), a download from 0 lets it start over.
function Dev:see_downloads(upto)
  local img = self.task and self.task.img
  if not img or not img.size or img.size <= 0 then return end
  self.dl_from = self:download_starts(img, self.dl_from, function(start, status)
    if status == 206 and start > 0 then
      self.low = math.max(0, start * 100 // img.size - 10)
      self.low_why = ("it resumed at byte %d of %d (%d %%)"):format(start, img.size, start * 100 // img.size)
    else
      self.low, self.low_why = -1, nil
    end
  end, upto)
end

-- Checks one report against what a correct device may say; returns it decoded.
function Dev:observe(msg)
  local r, err = json.decode(msg.payload)
  if type(r) ~= "table" then
    self:fail(3, "sent malformed JSON on %s: %s", msg.topic, err or "not an object")
  end
  if r.type == "report_version" then
    local v = type(r.report) == "table" and r.report.version
    if type(v) ~= "string" then
      self:fail(3, "report_version without a version string on %s", msg.topic)
    end
    self.versions[#self.versions + 1] = v
    r.version = v
    -- a version report starts the seed's loop again (step 1): the next
    -- download is a new one, its progress starts afresh
    self.low, self.low_why = -1, nil
  elseif r.type == "report_progress" then
    local p = type(r.report) == "table" and r.report.progress
    if type(p) ~= "table" or type(p.state) ~= "string" then
      self:fail(3, "report_progress without report.progress.state")
    end
    r.state, r.version = p.state, r.report.version
    r.code, r.result_msg = num(p.result_code), p.result_msg
    if p.state == "downloading" then
      local pc = num(p.percent)
      if not pc or pc < 0 or pc > 100 then
        self:rule("percent-range", "downloading percent %s is not 0..100", tostring(p.percent))
        pc = math.max(0, math.min(100, pc or 0))
      end
      -- progress is per firmware (report.version, seed 001): a device that
      -- finishes a replaced firmware's download and then fetches the new one
      -- starts that one's progress afresh
      if self.low_version and r.version and r.version ~= self.low_version then self.low, self.low_why = -1, nil end
      self.low_version = r.version or self.low_version
      self:see_downloads(msg.index)
      if pc < self.low and self.low_why then
        self:rule("resume-percent",
          "reported %d %% after %s: its progress must continue from the breakpoint (at least %d %%)",
          pc, self.low_why, self.low)
      elseif pc < self.low then
        self:rule("progress-backwards", "download progress went backwards: %d %% after %d %%", pc, self.low)
      end
      self.low, self.low_why = pc, nil
      r.percent = pc
    elseif p.state == "done" then
      if not self.states.burning then
        self:rule("done-after-burning", "done reported before burning")
      end
    end
    self.states[p.state] = true
  end
  return r
end

-- A report in a few words with its content, for a FAIL on timeout.
function Dev:describe(r)
  if r.type == "report_version" then return "report_version " .. tostring(r.version) end
  if r.type ~= "report_progress" then return tostring(r.type) end
  if r.state == "downloading" then return ("downloading %s %%"):format(tostring(r.percent)) end
  if r.state == "fail" then return ("fail %s (%s)"):format(tostring(r.code), tostring(r.result_msg)) end
  return tostring(r.state)
end

-- The percent a report says the device holds (hold_reached), or nil.
function Dev:percent_of(r) return r.percent end

-- Is report r a failure the platform will answer with a re-push (the
-- resume flow of seed 001, not the end of the upgrade)?
function Dev:retryable(r)
  local task = self.task
  return RETRYABLE[r.code] and task ~= nil and task.state == "pending" and task.pushes < task.max
end

-- Waits until the device reports `version`. opts.strict: any other version FAILs.
function Dev:expect_version(version, opts)
  opts = cloud.opts(opts, "expect_version", { "strict", "timeout" })
  local r = self:wait_for(function(r)
    if r.type ~= "report_version" then return false end
    if r.version == version then return true end
    if opts.strict then
      return ("%s reported version %s, expected %s"):format(self:who(), r.version, version)
    end
    return false
  end, opts.timeout or self.boot_wait, "report_version " .. version, 2)
  return r -- not a tail call: FAIL messages point at the scenario's line
end

-- Waits for a progress state ("downloading", "burning", "done"). A "fail"
-- FAILs, except a download timeout (-1) while the task is pending: the
-- platform re-pushes and the device resumes (seed 001's resume flow; -5 too:
-- the SDK sample's second report of a broken download).
function Dev:expect_progress(opts)
  -- idle: the wait goes on while the device reports at least every `idle` s (a
  -- weak link's pace is the device's, not a constant of ours), up to timeout
  cloud.opts(opts, "expect_progress", { "state", "timeout", "idle" })
  local want = assert(opts.state, "expect_progress: state = ... is required")
  local r = self:wait_for(function(r)
    if r.type ~= "report_progress" then return false end
    if r.state == "fail" and want ~= "fail" and not self:retryable(r) then
      return ("%s: upgrade failed with result_code %s (%s) while %s was expected"):format(
        self:who(), tostring(r.code), tostring(r.result_msg), want)
    end
    return r.state == want
  end, opts.timeout or self.step_wait, "progress state " .. want, 2, opts.idle)
  return r -- not a tail call: FAIL messages point at the scenario's line
end

-- Waits for state "fail" with result_code `code`; "done" or another code FAILs.
function Dev:expect_fail(opts)
  cloud.opts(opts, "expect_fail", { "code", "timeout" })
  local code = assert(opts.code, "expect_fail: code = ... is required")
  -- code = "any": a failure the seed gives no code for (a TLS handshake that fails, say),
  -- so any of its five result codes is a correct report (logged)
  assert(code == "any" or math.type(code) == "integer", "expect_fail: code is a result code or \"any\"")
  local want = code == "any" and "any result_code (-1..-5)" or ("result_code %d (%s)"):format(code, M.codes[code] or "?")
  local r = self:wait_for(function(r)
    if r.type ~= "report_progress" then return false end
    if r.state == "done" then
      return ("%s reported done, but %s was expected"):format(self:who(), want)
    end
    if r.state ~= "fail" then return false end
    if (code == "any" and not M.codes[r.code]) or (code ~= "any" and r.code ~= code) then
      return ("expected %s, %s reported %s (%s) at %.2f s"):format(
        want, self:who(), tostring(r.code), tostring(r.result_msg), r.t or 0)
    end
    if code == "any" then otahil.log(("%s reported result_code %d (%s)"):format(self:who(), r.code, M.codes[r.code])) end
    return true
  end, opts.timeout or self.step_wait, "failure " .. tostring(code), 2)
  return r -- not a tail call: FAIL messages point at the scenario's line
end

-- ---- what the cloud says ----------------------------------------------------

-- Publishes update_firmware and makes it the pending task the platform
-- re-pushes (see the top). opts: image (from t.fw:serve), version, and
-- overrides md5, size, url (to send wrong values on purpose); repush = false
-- pushes once and holds no task; max_pushes (default 10).
function Dev:push_update(opts)
  cloud.opts(opts, "push_update", { "image", "version", "md5", "size", "url", "repush", "max_pushes" })
  local img = assert(opts.image, "push_update: image = t.fw:serve(...) is required")
  self:end_task("replaced by a new push")
  local msg = {
    type = "update_firmware",
    file_size = opts.size or img.size,
    md5sum = opts.md5 or img.md5,
    url = opts.url or img.url,
    version = assert(opts.version, "push_update: version is required"),
  }
  if img.name then self.req_cursor[img.name] = otahil.cursor() end
  self:reset()
  local payload = json.encode(msg)
  self.task = nil
  if opts.repush ~= false then
    self.task = { version = msg.version, img = img, payload = payload, state = "pending",
                  pushes = 0, max = opts.max_pushes or 10, since = otahil.cursor() }
  else
    self.task = { version = msg.version, img = img, state = "pushed once", pushes = 0, max = 0, since = 0 }
  end
  local ok, err = self.mq:publish(self.down, payload, { qos = 1 })
  if not ok then error("cloud: publish update_firmware: " .. tostring(err), 2) end
  return msg
end

-- A full, correct upgrade to `version` with the served image `img`: burning,
-- done, the new version reported (download progress is checked as it comes;
-- a device that rate-limits it need not report any).
function Dev:upgrade(version, img)
  self:push_update { image = img, version = version }
  self:finish_upgrade(version)
end

-- The end of an upgrade to `version` already pushed: burning, done, the new
-- version reported.
function Dev:finish_upgrade(version)
  self:expect_progress { state = "burning", timeout = self.step_wait + self.download_timeout }
  self:expect_progress { state = "done" }
  self:expect_version(version)
end

-- The end of an upgrade whose download of `img` was broken and resumed
-- (seed 001, OTA断点续传): finish_upgrade, and the body bytes served add up to
-- about one image (an eighth more for what a device fetches again around its
-- breakpoint); more means the device downloaded again what it had.
function Dev:finish_resumed(version, img)
  self:finish_upgrade(version)
  local served = cloud.net(self.t).http:body_bytes()
  if served > img.size + img.size // 8 then
    self:fail(2, "%d bytes served for an image of %d: the device downloaded again what it had", served, img.size)
  end
end

M.range_start, M.net = cloud.range_start, cloud.net

-- ---- the device's MQTT login (key authentication) ----------------------------

-- Checks a device's MQTT CONNECT credentials the way Tencent IoT Hub signs them
-- (the public C SDK's doc "MQTT 连接参数生成": client id = productID..deviceName;
-- user name "productID deviceName;sdkappid;connid;expiry"; password
-- "hex HMAC(base64-decoded device secret, user name);hmacsha1" or ";hmacsha256";
-- the SDK's sdkappid is 21010406, its expiry a UTC timestamp, LONG_MAX when the
-- device's clock is unknown). o: client_id, username, password (from the CONNECT),
-- product, device, secret (the lab's), now (UTC seconds; default os.time()).
-- Returns true, or false and why.
function M.check_login(o)
  local want_id = o.product .. o.device
  if o.client_id ~= want_id then
    return false, ("client id %q, expected %q (productID..deviceName)"):format(tostring(o.client_id), want_id)
  end
  local u = tostring(o.username or "")
  local who, appid, connid, expiry = u:match("^([^;]*);(%d+);([^;]+);(%d+)$")
  if not who then
    return false, ("user name %q is not \"productID deviceName;sdkappid;connid;expiry\""):format(u)
  end
  if who ~= want_id then return false, ("user name starts %q, expected %q"):format(who, want_id) end
  if appid ~= "21010406" then return false, ("sdkappid %s, the SDK's is 21010406"):format(appid) end
  if tonumber(expiry) < (o.now or os.time()) then
    return false, ("the signature expired at %s"):format(expiry)
  end
  if (o.password == nil or o.password == "") and o.tls then
    -- Tencent's SDK over TLS signs no password: a certificate device proves itself
    -- with its client certificate, a key device with TLS-PSK from the secret
    -- (qcloud-iot-explorer-sdk-embedded-c, mqtt_client.c). otahil's TLS checks
    -- neither, so this login cannot be judged: not the device's fault (nil: ERROR)
    return nil, "the device logs in over TLS with no password (Tencent's certificate or PSK login, "
      .. "which otahil does not check): use auth = \"none\" for it, or its plain-TCP signed login"
  end
  local sign, method = tostring(o.password or ""):match("^(%x+);(hmacsha%d+)$")
  local alg = ({ hmacsha1 = "sha1", hmacsha256 = "sha256" })[method or ""]
  if not alg then
    return false, ("password %q is not \"<hex>;hmacsha1\" or \"<hex>;hmacsha256\""):format(tostring(o.password))
  end
  local key, why = digest.base64_decode(o.secret)
  if not key then return false, "the lab's secret: " .. why end
  if digest.hmac(alg, key, u) ~= sign:lower() then
    return false, ("wrong %s signature of %q"):format(method, u)
  end
  return true
end

-- The platform's login policy (the lab's auth = "platform"): the harness holds
-- each CONNECT of the device and calls this with the "mqtt.login" event l
-- (client_id, username, password); true accepts it, false and why refuse it
-- with CONNACK 4 (bad user name or password), as IoT Hub refuses a wrong
-- signature. The decision and why are the "mqtt.login.result" event.
M.login = cloud.login_policy("qcloud", M.check_login)

-- Waits for a report_version; returns the version (FAILs on timeout).
function Dev:next_version(timeout)
  local r = self:wait_for(function(r) return r.type == "report_version" end,
    timeout or self.boot_wait, "report_version", 2)
  return r.version
end

return M
