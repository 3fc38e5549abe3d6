-- The same update_firmware twice, back to back: seed 001 says a device may
-- get the push more than once ("执行第3步，设备端都会收到第4步的消息"). A
-- correct device still ends on the new version; how many times it burnt is
-- logged (the seed does not say).
local qcloud = require "qcloud"

return {
  name = "a duplicated update message: the device still ends on the new version",
  dialect = "qcloud",
  timeout = 90,
  requires = { "power" },
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    local target, img = d:good_image()
    local from = otahil.cursor()
    d:push_update { image = img, version = target }
    d:push_raw(json.encode { type = "update_firmware", version = target, url = img.url,
                             md5sum = img.md5, file_size = img.size })
    d:expect_progress { state = "burning", timeout = d.step_wait + d.download_timeout }
    d:expect_progress { state = "done" }
    d:expect_version(target)
    -- how often it burnt is logged, not judged: the seed does not say what a
    -- device does with a push for a firmware it is already fetching
    local burns, cur = 0, from
    while true do
      local ev, nxt = otahil.next_event({ kind = "mqtt.in", client = d.mq_id }, { from = cur, timeout = 0.01 })
      if not ev then break end
      cur = nxt
      local r = json.decode(ev.payload)
      if type(r) == "table" and type(r.report) == "table" and type(r.report.progress) == "table"
        and r.report.progress.state == "burning" then burns = burns + 1 end
    end
    otahil.log(("%d burning report(s) for the duplicated update"):format(burns))
  end,
}
