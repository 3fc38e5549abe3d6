local qcloud = require "qcloud"

return {
  name = "allow with an unknown rule name is an error at the scenario's line",
  dialect = "qcloud",
  run = function(t)
    local d = qcloud.attach(t, { power = false })
    d:allow { "progress-restart" }
  end,
}
