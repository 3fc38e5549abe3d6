-- The firmware server's TLS session ends with a fatal alert (internal_error)
-- a third into the download: the device has exactly that many body bytes.
-- Seed 001 (OTA断点续传): "设备侧report设备的版本，如果上报的版本号与要升级的目标版本号
-- 不一致，则平台会再次下发固件升级消息，设备获取到升级的目标固件的信息与本地记录的中断的
-- 固件信息比较，确定为同一固件后，基于断点继续下载" (the device reports its version;
-- if it is not the target, the platform sends the upgrade message again; the
-- device compares it with what it recorded of the interrupted firmware and,
-- the same firmware, continues from the breakpoint). So the next request for
-- the image must start after 0 and at most at the byte the alert came after
-- (a breakpoint is where it got to, never past it), and the upgrade ends on
-- the new version. Whether the device retries by itself or waits for the
-- re-sent message, and what it reports meanwhile, the seed leaves open.
local qcloud = require "qcloud"

return {
  name = "fatal TLS alert mid-body: resume the same firmware from the breakpoint",
  dialect = "qcloud",
  timeout = 90,
  requires = { "power", "tls", "resume" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    local at = img.size // 3
    local alert = t.net.http:cut { at_body_byte = at, tls_alert = "internal_error" }
    d:push_update { image = img, version = target }
    d:next_request(img)
    local ev = alert:wait(d.step_wait + d.download_timeout)
    if not ev then error(("the alert at body byte %d never acted"):format(at)) end
    -- a TLS 1.2 session cannot carry an alert of the proxy's choice: the harness's limit, not the device's
    if ev.action ~= "alert" then error("the proxy sent no alert: " .. tostring(ev.detail)) end
    local again = d:next_request(img, { timeout = d.step_wait + d.download_timeout })
    t.expect(again.start > 0,
      ("after the alert at body byte %d the device downloaded from 0 again (Range %s), expected bytes=N- with 0 < N <= %d")
        :format(at, tostring(again.range), at))
    t.expect(again.start <= at,
      ("the device resumed at byte %d, past the %d bytes it received before the alert"):format(again.start, at))
    d:finish_resumed(target, img)
  end,
}
