-- A 10 MB error message.
return { name = "a huge error", dialect = "qcloud", timeout = 30, run = function(t)
  t.fail(string.rep("E", 10 * 1024 * 1024))
end }
