-- A differential package names its source version; the platform pushes it
-- only to a device that reported that version when it connected (seed 000:
-- "开发者中心根据设备连接平台时上报的设备信息中的版本号判断是否与此参数一致，若一致则下发升级信息").
-- So a package for another source version never reaches the device, and the
-- one for its running version does and is accepted. A lab that wants the
-- device to check the source itself too (should a wrong plan reach it)
-- asks for strict = { "diff-source" }: then the wrong plan is pushed anyway
-- and must be refused.
local quecthing = require "quecthing"

return {
  name = "differential packages: only for the running version, accepted",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = quecthing.attach(t)
    d:ready()
    local target, img = d:image("2.0.0")
    local p = d:activate { image = img, target_version = target, package = "diff", source_version = "0.9.0" }
    t.expect(d:rematch() == 0, "the platform matched a differential package to the wrong source version")
    d:expect_no_plan(p, 0.3)
    if d.strict["diff-source"] then
      d:push_plan(p)
      d:expect_action(p, 0)
    end
    d:deactivate(p)
    local right = d:activate { image = img, target_version = target, package = "diff", source_version = t.device.version }
    t.expect(d:rematch() == 1, "the differential package for the running version did not match")
    d:expect_action(right, 1)
  end,
}
