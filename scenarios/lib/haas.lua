-- haas: AliOS Things HaaS `ota` (seed 004), cloud side. HaaS speaks Aliyun's
-- OTA topics (see aliyun.lua for the messages); this module names the seed's
-- API on top of them and adds the seed's rule for system upgrades.
--
--   ota.report{product_key, device_name, module_name, version}
--       = an inform on /ota/device/inform/{pk}/{dn}, one per module
--   on_trigger{url, length, module_name, version, hash, hash_type}
--       = an upgrade on /ota/device/upgrade/{pk}/{dn}: url, size, module,
--         version, sign, signMethod ("md5" -> "MD5", "sha256" -> "SHA256")
--   ota.download{url, store_path}, ota.verify{length, store_path, hash_type, hash}
--       = the device's own work; it shows as progress steps (-2 download
--         failed, -3 verify failed) and the new version informed
--   seed 004: "在初始化过后，只需要向云端上报一个比云端固件版本低的版本即可触发系统固件升级"
--   (report a version lower than the cloud's to trigger the system upgrade):
--   Dev:set_cloud_version deploys the upgrade of a module, and the platform
--   pushes it whenever the device informs a lower version of that module,
--   until it informs the target (at most max_pushes times, default 20).
-- HaaS downloads over HTTP only; module "default" is the system firmware
-- (reboot), any other module a file installed in place (no reboot).
local aliyun = require "aliyun"

local M = setmetatable({}, { __index = aliyun })
local Dev = aliyun.Dev

function M.attach(t, opts)
  opts = opts or {}
  opts.flavour = "haas"
  return aliyun.attach(t, opts)
end

local methods = { md5 = "MD5", sha256 = "SHA256" }

-- The upgrade push opts for a HaaS trigger {image, version, module_name,
-- hash_type = "md5"|"sha256", hash (override), length (override), url}.
local function push_opts(trig)
  local ht = trig.hash_type or "md5"
  local method = assert(methods[ht], "hash_type must be md5 or sha256")
  return {
    image = trig.image, version = trig.version, module = trig.module_name,
    method = method, url = trig.url, size = trig.length,
    sign = trig.hash, md5 = ht == "md5" and trig.hash or nil,
    max_pushes = trig.max_pushes, trigger = true,
  }
end

-- on_trigger: pushes the upgrade now.
function Dev:trigger(trig)
  return self:push_update(push_opts(trig))
end

-- The cloud's version of a module: the next inform of a lower version of
-- that module triggers the upgrade (seed 004's system upgrade).
function Dev:set_cloud_version(trig)
  self:deploy(push_opts(trig))
end

return M
