-- Garbage on the device's downlink (bad JSON, wrong types, unknown events,
-- info for a plan it never accepted, a huge payload) is ignored: no answer,
-- no crash, and a good plan afterwards still works.
local quecthing = require "quecthing"

return {
  name = "garbage on the downlink is ignored, a good plan still works",
  timeout = 60,
  requires = { "power" },
  run = function(t)
    local d = quecthing.attach(t)
    d:ready()
    local target, img = d:image("2.0.0")
    local garbage = {
      "{\"event\": \"otaPlan\", \"plan_id\": ",
      "not json",
      "[1,2,3]",
      "{\"event\": 5}",
      "{\"event\": \"otaPlan\"}",
      json.encode { event = "otaPlan", plan_id = "x", comp_no = { 1 }, comp_type = 7, package = "half" },
      json.encode { event = "fotaInfo", plan_id = "nope", comp_no = "module", version = target,
                    url = img.url, md5 = img.md5, size = img.size },
      json.encode { event = "selfDestruct" },
      "{\"event\": \"" .. string.rep("A", 64 * 1024) .. "\"}",
      "\0\1\2\255{}}",
    }
    for _, g in ipairs(garbage) do d:push_raw(g) end
    t.expect(t.fw:next_request { name = img.name, timeout = 0.3 } == nil, "the device downloaded firmware of a plan it never accepted")
    local p = d:activate { image = img, target_version = target }
    d:rematch()
    d:expect_action(p, 1)
    d:expect_step(p, "downloading")
  end,
}
