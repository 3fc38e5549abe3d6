local qcloud = require "qcloud"

return {
  name = "a dialect helper's unknown key is an error at the scenario's line",
  dialect = "qcloud",
  run = function(t)
    local d = qcloud.attach(t, { power = false })
    d:expect_progress { step = 100 }
  end,
}
