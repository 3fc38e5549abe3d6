-- A Tencent OTA exchange spoken by hand: the cloud's own MQTT client, JSON
-- built and read in the scenario, an image from the firmware server. No
-- dialect library: read this to see what scenarios/lib/qcloud.lua does for you.
--
-- This folder is "examples", not a dialect, so the scenario names its dialect:
-- it runs on every lab device whose dialect is "qcloud".
return {
  name = "raw MQTT: version report, update_firmware, progress to done, new version",
  dialect = "qcloud",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local dev = t.device
    local boot, step = dev.timing.boot or 10, dev.timing.step or 15 -- seconds, from the lab
    local up = "$ota/report/" .. dev.product .. "/" .. dev.device
    local down = "$ota/update/" .. dev.product .. "/" .. dev.device

    -- The next report of the device, decoded; FAIL (not ERROR) when the
    -- device is silent or sends what is not a JSON object: that is its fault.
    -- Level 2: the FAIL names the line that called next_report.
    local function next_report(c, what, timeout)
      local msg = c:next(up, { timeout = timeout })
      if not msg then
        otahil.fail(("device '%s' sent no %s within %g s"):format(dev.name, what, timeout), 2)
      end
      local r, err = json.decode(msg.payload)
      if type(r) ~= "table" then
        otahil.fail(("device '%s' sent malformed JSON: %s"):format(dev.name, tostring(err)), 2)
      end
      return r
    end

    -- Subscribe before power on, so that the first report cannot be missed.
    local c = assert(mqtt.connect { id = "example-cloud-" .. t.id })
    assert(c:subscribe(up))
    dev:power_on()

    local r = next_report(c, "report_version", boot)
    local v = r.type == "report_version" and type(r.report) == "table" and r.report.version
    t.expect(v == dev.version, ("first report %s, expected report_version %s"):format(json.encode(r), dev.version))

    -- The lab names its images; the firmware server serves one for this case.
    local img = t.fw:serve(dev.images.good["2.0.0"])
    local d = assert(digest.file(img.path))
    otahil.log("serving " .. img.name, { size = d.size, md5 = d.md5 })
    c:publish(down, json.encode {
      type = "update_firmware", version = "2.0.0",
      url = img.url, md5sum = img.md5, file_size = img.size,
    })

    -- Progress until "done": percents only go up, and "fail" is the device's fault.
    local last = -1
    repeat
      r = next_report(c, "progress report", step)
      local p = type(r.report) == "table" and r.report.progress or {}
      t.expect(p.state ~= "fail", ("upgrade failed: result_code %s"):format(tostring(p.result_code)))
      if p.state == "downloading" then
        local pc = tonumber(p.percent)
        t.expect(pc and pc >= last, ("percent %s after %d"):format(tostring(p.percent), last))
        last = pc
      end
    until p.state == "done"
    -- no 100 % is owed before done: a device may rate-limit its progress
    -- (the Tencent SDK sample reports at most one a second; docs/verdicts.md)
    otahil.log(("done; the last downloading report said %d %%"):format(last))

    -- It reboots into the new image and says so.
    repeat r = next_report(c, "report_version after the reboot", boot) until r.type == "report_version"
    v = type(r.report) == "table" and r.report.version
    t.expect(v == "2.0.0", "after the upgrade the device reports version " .. tostring(v))
    c:close()
  end,
}
