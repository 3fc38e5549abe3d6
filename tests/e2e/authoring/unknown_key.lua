return {
  name = "a misspelt fault key is an error at the author's line",
  dialect = "qcloud",
  run = function(t)
    t.net.http:cut { at_body_bytes = 100 }
  end,
}
