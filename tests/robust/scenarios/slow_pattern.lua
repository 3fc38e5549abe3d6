-- A pattern that backtracks for minutes inside one C call.
return { name = "a slow pattern", dialect = "qcloud", timeout = 120, run = function(t)
  local s = string.rep("a", 200000)
  local found = s:find(".-.-.-.-b")
  t.expect(found == nil)
end }
