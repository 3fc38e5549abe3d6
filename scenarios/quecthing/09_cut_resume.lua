-- The download is cut a third of the way: the module must resume with
-- Range: bytes=N- (N > 0) and finish the upgrade.
local quecthing = require "quecthing"

return {
  name = "FOTA download cut: resumed from the breakpoint",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = quecthing.attach(t)
    local target, img = d:image("2.0.0")
    if t.net then t.net.http:cut { at_body_byte = img.size // 3, times = 1 }
    else t.fw:fault(img, { truncate_after = img.size // 3, times = 1 }) end
    local p = d:activate { image = img, target_version = target }
    d:expect_action(p, 1)
    local first = t.fw:next_request { name = img.name, timeout = d.step_wait }
    t.expect(first ~= nil, "no download request")
    local again = t.fw:next_request { name = img.name, timeout = d.step_wait }
    t.expect(again ~= nil, "the device did not retry after the cut")
    local from = tonumber((again.range or ""):match("^bytes=(%d+)%-") or "0")
    t.expect(from > 0, ("the device restarted from 0 after the cut (Range %s)"):format(tostring(again.range)))
    d:expect_result(p, 0, { timeout = d.step_wait + d.boot_wait })
  end,
}
