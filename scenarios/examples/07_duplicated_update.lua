-- The same update_firmware twice, back to back: seed 001 says a device may
-- get the push more than once ("执行第3步，设备端都会收到第4步的消息"). A
-- correct device upgrades once: one burn, one done, the new version.
local qcloud = require "qcloud"

return {
  name = "a duplicated update message: one upgrade",
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
    d:drain(1)
    local burns = 0
    local cur = from
    while true do
      local ev, nxt = otahil.next_event({ kind = "mqtt.in", client = d.mq_id }, { from = cur, timeout = 0.01 })
      if not ev then break end
      cur = nxt
      local r = json.decode(ev.payload)
      if type(r) == "table" and r.type == "report_progress" and r.report.progress.state == "burning" then burns = burns + 1 end
    end
    t.expect(burns == 1, ("%d burning reports for one upgrade"):format(burns))
  end,
}
