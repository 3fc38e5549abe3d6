local qcloud = require "qcloud"

return {
  name = "an error raised inside scenarios/lib points at the scenario's line",
  dialect = "qcloud",
  run = function(t)
    local d = qcloud.attach(t, { power = false })
    d:expect_progress { timeout = 1 }
  end,
}
