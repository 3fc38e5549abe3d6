-- The same upgrade without allow: the rule FAILs and names itself.
local qcloud = require "qcloud"

return {
  name = "a rule breach names the rule",
  dialect = "qcloud",
  run = function(t)
    local d = qcloud.attach(t)
    d:expect_version(t.device.version)
    d:upgrade(d:good_image())
  end,
}
