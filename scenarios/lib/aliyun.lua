-- aliyun: the Aliyun IoT Platform OTA dialect, cloud side (seed 003), and the
-- core that haas.lua (seed 004) shares. Facts from the vendor's documentation
-- ("OTA升级" topics) and the Link SDK C (components/ota, components/mqtt_download);
-- where the seed says less, the vendor is followed.
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
--                                            -4 burn failed; at most one report per 3 s
--   up    /sys/{pk}/{dn}/thing/ota/firmware/get         {"id","version":"1.0","params":{"module"}}
--   down  /sys/{pk}/{dn}/thing/ota/firmware/get_reply   {"id","code":200,"data":{as upgrade | {}}}
--   up    /sys/{pk}/{dn}/thing/file/download            {"id","version":"1.0","params":{"fileToken",
--                                            "fileInfo":{"streamId","fileId"},"fileBlock":{"size","offset"}}}
--   down  /sys/{pk}/{dn}/thing/file/download_reply      binary: 2-byte big-endian length of a JSON
--                                            header {"id","code":200,"msg","data":{"fileToken",
--                                            "fileLength","bSize","bOffset"}}, the bSize bytes, and the
--                                            CRC-16/ARC of those bytes, 2 bytes little endian (the Link
--                                            SDK reads them as a native uint16_t on little-endian chips)
-- A block is 256..131072 bytes (the last one may be smaller), the file at most 16 MiB.
-- Success is the new version informed for the module.
--
-- Every message the device sends goes through Dev:observe, which FAILs at once,
-- naming the device and the topic, on what a correct device never does:
-- malformed JSON, a step outside the platform's values, a step going backwards,
-- progress reported more often than the platform allows (three reports within
-- one interval: the lab's timing.progress_interval_ms, the device's knob; the
-- platform's rule is 3 s), a block request that leaves a gap or asks past the
-- end, a block size out of range.
--
-- Lab images: images.good["2.0.0"] are firmware ("default") images; a key
-- "MODULE@VERSION" (e.g. "MCU@1.1.0") is an image of another module.
--
-- next_report, wait_for, power_cycle, bad_image and next_request are
-- cloud.Dev's (scenarios/lib/cloud.lua); good_image, power_off and push_raw
-- are cloud.Dev's with modules and the block download added.
local cloud = require "cloud"
local M = {}
local Dev = cloud.inherit {}
Dev.__index = Dev
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

-- Connects the cloud to the device's topics and powers the device on
-- (opts.power = false leaves it off). opts.flavour = "haas" for haas.lua.
function M.attach(t, opts)
  opts = opts or {}
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
  self.interval = ((lab.timing or {}).progress_interval_ms or 3000) / 1000
  self.mult = t.timeout_multiplier or 1
  self.mq = cloud.connect(self, { self.t_inform, self.t_progress, self.t_get })
  self.versions = {}     -- module -> last informed version
  self.informs = {}      -- every inform, in order: {module=, version=}
  self.last_step = {}    -- module -> last positive step since its push
  self.last_report = {}  -- module -> arrival times of its progress reports
  self.jobs = {}         -- module -> deployed firmware (get_reply, lower-version trigger)
  self.streams = {}      -- streamId -> {img=, bytes=, fileId=, last_off=, next_off=}
  self.block_log = {}    -- every block request: {stream=, offset=, size=, t=}
  self.next_stream = 1000 + (#t.id * 7919) % 100000
  self.msg_id = 0
  if self.flavour ~= "haas" then self:serve_blocks() end
  if opts.power ~= false then lab:power_on() end
  return self
end

function Dev:id()
  self.msg_id = self.msg_id + 1
  return tostring(self.msg_id)
end

function Dev:fail(msg, level)
  otahil.fail(("device '%s': %s"):format(self.name, msg), (level or 1) + 1)
end

-- ---- what the device says --------------------------------------------------

local function decode(self, msg)
  local r, err = json.decode(msg.payload)
  if type(r) ~= "table" then
    self:fail(("sent malformed JSON on %s: %s"):format(msg.topic, err or "not an object"), 3)
  end
  local p = r.params
  if type(p) ~= "table" then self:fail(("sent a message without \"params\" on %s"):format(msg.topic), 3) end
  if p.module ~= nil and (type(p.module) ~= "string" or p.module == "") then
    self:fail(("sent a module that is not a name on %s"):format(msg.topic), 3)
  end
  return r, p
end

-- Checks one message of the device against what a correct device may say;
-- returns it decoded, with kind = "inform" | "progress" | "get".
function Dev:observe(msg)
  local r, p = decode(self, msg)
  local module = p.module or "default"
  r.module, r.topic, r.t = module, msg.topic, msg.t
  if msg.topic == self.t_inform then
    if type(p.version) ~= "string" or p.version == "" then
      self:fail(("inform without a version string on %s"):format(msg.topic), 2)
    end
    r.kind, r.version = "inform", p.version
    self.versions[module] = p.version
    self.informs[#self.informs + 1] = { module = module, version = p.version, t = msg.t }
    -- a new session (or the end of an upgrade) starts the progress clock anew
    self.last_report = {}
    self:on_inform(module, p.version)
  elseif msg.topic == self.t_progress then
    local step = int(p.step)
    if not step or not ((step >= 1 and step <= 100) or M.steps[step]) then
      self:fail(("progress step %s on %s is neither 1..100 nor -1..-4"):format(tostring(p.step), msg.topic), 2)
    end
    if p.desc ~= nil and type(p.desc) ~= "string" then
      self:fail(("progress desc on %s is not a string"):format(msg.topic), 2)
    end
    -- Arrival times are the harness's: a loaded machine may hold one report
    -- back and deliver it with the next, so two close ones prove nothing;
    -- three within one interval cannot come from a device that keeps it.
    local times = self.last_report[module] or {}
    if #times >= 2 and msg.t - times[#times - 1] < self.interval then
      self:fail(("reported progress of module %s 3 times within %.2fs on %s (at most one per %gs)"):format(
        module, msg.t - times[#times - 1], msg.topic, self.interval), 2)
    end
    times[#times + 1] = msg.t
    self.last_report[module] = times
    if step > 0 then
      local prev = self.last_step[module] or 0
      if step < prev then
        self:fail(("progress of module %s went backwards: step %d after %d"):format(module, step, prev), 2)
      end
      self.last_step[module] = step
    end
    r.kind, r.step, r.desc = "progress", step, p.desc
  elseif msg.topic == self.t_get then
    r.kind = "get"
    self:answer_get(r, module)
  else
    self:fail(("sent a message on the unexpected topic %s"):format(msg.topic), 2)
  end
  return r
end

-- A message in a few words, for a FAIL on timeout (cloud.Dev:wait_for).
function Dev:describe(r)
  return r.kind .. " " .. tostring(r.step or r.version or "") .. " (" .. r.module .. ")"
end

-- Waits until the device informs `version` for opts.module (default
-- "default"). opts.strict: another version of that module FAILs; a negative
-- step FAILs unless opts.allow_fail.
function Dev:expect_version(version, opts)
  opts = opts or {}
  local module = opts.module or "default"
  local r = self:wait_for(function(r)
    if r.kind == "progress" and r.step < 0 and not opts.allow_fail then
      return ("device '%s': step %d (%s: %s) while waiting for module %s to inform %s"):format(
        self.name, r.step, M.steps[r.step], tostring(r.desc), module, version)
    end
    if r.kind ~= "inform" or r.module ~= module then return false end
    if r.version == version then return true end
    if opts.strict then
      return ("device '%s' informed module %s at version %s, expected %s"):format(self.name, module, r.version, version)
    end
    return false
  end, opts.timeout or self.boot_wait, ("inform of module %s at version %s"):format(module, version), 2)
  return r -- not a tail call: FAIL messages point at the scenario's line
end

-- Waits for a progress step >= opts.step (1..100) of opts.module; a failure FAILs.
function Dev:expect_progress(opts)
  local want = assert(opts.step, "expect_progress: step = ... is required")
  local module = opts.module or "default"
  local r = self:wait_for(function(r)
    if r.kind ~= "progress" or r.module ~= module then return false end
    if r.step < 0 then
      return ("device '%s': step %d (%s: %s) while step %d was expected"):format(
        self.name, r.step, M.steps[r.step], tostring(r.desc), want)
    end
    return r.step >= want
  end, opts.timeout or self.step_wait, ("progress step %d of module %s"):format(want, module), 2)
  return r
end

-- Waits for the failure step opts.step of opts.module. Another failure step,
-- or the target version (opts.version) informed, FAILs.
function Dev:expect_fail(opts)
  local step = assert(opts.step, "expect_fail: step = ... is required")
  local module = opts.module or "default"
  local r = self:wait_for(function(r)
    if r.kind == "inform" and r.module == module and opts.version and r.version == opts.version then
      return ("device '%s' informed %s %s, but step %d (%s) was expected"):format(
        self.name, module, r.version, step, M.steps[step])
    end
    if r.kind ~= "progress" or r.module ~= module or r.step > 0 then return false end
    if r.step ~= step then
      return ("device '%s' reported step %d (%s: %s), expected %d (%s)"):format(
        self.name, r.step, M.steps[r.step], tostring(r.desc), step, M.steps[step])
    end
    return true
  end, opts.timeout or self.step_wait, ("step %d of module %s"):format(step, module), 2)
  return r
end

-- Waits for an inform of every module in `versions` ({module = version});
-- returns the table of versions informed.
function Dev:expect_informs(versions, timeout)
  local seen = {}
  self:wait_for(function(r)
    if r.kind == "inform" and versions[r.module] then
      if r.version ~= versions[r.module] then
        return ("device '%s' informed module %s at %s, expected %s"):format(self.name, r.module, r.version, versions[r.module])
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

-- Publishes an upgrade. opts: image (t.fw:serve), version, module ("default"),
-- via "http" (default) | "mqtt", method "MD5" | "SHA256" (default: MD5 over
-- http, SHA256 over mqtt), and overrides md5, sign, size, url to send wrong
-- values on purpose. Returns the data sent.
function Dev:push_update(opts)
  local data = self:upgrade_data(opts)
  self.last_step[data.module] = 0
  if opts.image.name then self.req_cursor[opts.image.name] = otahil.cursor() end
  local msg = { code = "1000", id = self:id(), message = "success", data = data }
  local ok, err = self.mq:publish(self.t_upgrade, json.encode(msg), { qos = 1 })
  if not ok then error("cloud: publish upgrade: " .. tostring(err), 2) end
  return data
end

-- Deploys firmware for a module without pushing it: the cloud answers the
-- device's firmware/get with it, and (opts.trigger, HaaS's rule) pushes it
-- when the device informs a lower version of that module. opts as push_update.
function Dev:deploy(opts)
  local module = opts.module or "default"
  self.jobs[module] = { opts = opts, pushes = 0, trigger = opts.trigger }
end

function Dev:on_inform(module, version)
  local job = self.jobs[module]
  if job and job.trigger and job.pushes < (job.opts.max_pushes or 1) and M.version_less(version, job.opts.version) then
    job.pushes = job.pushes + 1
    otahil.log(("cloud: module %s informed %s < %s: pushing the upgrade"):format(module, version, job.opts.version))
    self:push_update(job.opts)
  end
end

function Dev:answer_get(r, module)
  local job = self.jobs[module]
  local data = {}
  if job and self.versions[module] ~= job.opts.version then
    data = self:upgrade_data(job.opts)
    self.last_step[module] = 0
    job.pushes = job.pushes + 1
  end
  local reply = { id = r.id, code = 200, message = "success", data = data }
  local ok, err = self.mq:publish(self.t_get_reply, json.encode(reply), { qos = 1 })
  if not ok then error("cloud: publish get_reply: " .. tostring(err), 2) end
end

-- Publishes raw bytes on one of the device's downlink topics (garbage on
-- purpose): topic "upgrade" (default), "get_reply" or "download_reply".
function Dev:push_raw(payload, which)
  local topic = ({ upgrade = self.t_upgrade, get_reply = self.t_get_reply, download_reply = self.t_dl_reply })[which or "upgrade"]
  local ok, err = self.mq:publish(assert(topic, "push_raw: unknown topic"), payload, { qos = 1 })
  if not ok then error("cloud: publish raw: " .. tostring(err), 2) end
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

function Dev:serve_block(msg)
  local r, p = decode(self, msg)
  local info, blk = p.fileInfo, p.fileBlock
  if type(info) ~= "table" or type(blk) ~= "table" then
    self:fail(("download request without fileInfo/fileBlock on %s"):format(msg.topic), 2)
  end
  local sid, fid, size, off = int(info.streamId), int(info.fileId), int(blk.size), int(blk.offset)
  if not (sid and fid and size and off) then
    self:fail(("download request with a non-integer streamId, fileId, size or offset on %s"):format(msg.topic), 2)
  end
  local token = p.fileToken
  if token ~= nil and (type(token) ~= "string" or #token > 16 or token:find("[^%w_.]")) then
    self:fail(("fileToken %s on %s is not up to 16 of [A-Za-z0-9_.]"):format(tostring(token), msg.topic), 2)
  end
  local st = self.streams[sid]
  local function reply(code, text, bytes)
    local header = json.encode { id = r.id, code = code, msg = text,
      data = { fileToken = token, fileLength = st and st.img.size or 0, bSize = bytes and #bytes or 0, bOffset = off } }
    local frame = string.pack(">s2", header) .. (bytes or "") .. string.pack("<I2", M.crc16(bytes or ""))
    self.blk:publish(self.t_dl_reply, frame, { qos = 1 })
  end
  if not st or fid ~= st.fileId then
    reply(404, "no such stream or file")
    return
  end
  local total = st.img.size
  if off < 0 or off >= total or off + size > total then
    self:fail(("asked for block offset=%d size=%d of a %d-byte file on %s"):format(off, size, total, msg.topic), 2)
  end
  if size > 131072 or (size < 256 and off + size ~= total) or size < 1 then
    self:fail(("asked for a block of %d bytes on %s (256..131072, the last one may be smaller)"):format(size, msg.topic), 2)
  end
  if st.last_off and off ~= st.last_off and off ~= st.next_off then
    self:fail(("asked for block offset=%d on %s after block [%d, %d): %s of %d bytes"):format(
      off, msg.topic, st.last_off, st.next_off, off > st.next_off and "a gap" or "an overlap",
      math.abs(off - st.next_off)), 2)
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
  local candidates = {}
  for key in pairs(good) do
    local m, v = key:match("^(.-)@(.+)$")
    if not m then m, v = "default", key end
    if m == (module or "default") and (version == nil or v == version) and
       (module or v ~= self.dev.version) then
      candidates[#candidates + 1] = { key = key, version = v }
    end
  end
  table.sort(candidates, function(a, b) return a.key < b.key end)
  local c = candidates[1]
  if not c then
    error(("lab: device '%s' declares no good image of module %s%s (images.good[\"%s\"])"):format(
      self.dev.name, module or "default", version and (" at " .. version) or "",
      module and (module .. "@VERSION") or "VERSION"), 2)
  end
  return c.version, self.t.fw:serve(good[c.key])
end

-- A full, correct upgrade of opts.module (default "default") to `version`.
function Dev:upgrade(version, img, opts)
  opts = opts or {}
  self:push_update { image = img, version = version, module = opts.module, via = opts.via, method = opts.method }
  self:expect_progress { step = 100, module = opts.module }
  self:expect_version(version, { module = opts.module, timeout = self.boot_wait + self.step_wait })
end

-- Cuts power and forgets what the device said before (still checked), as
-- cloud.Dev:power_off does, and starts the progress clock anew.
function Dev:power_off(opts)
  cloud.Dev.power_off(self, opts)
  self.last_report = {}
end

M.range_start, M.net = cloud.range_start, cloud.net

return M
