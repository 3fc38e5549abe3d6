-- A finalizer that loops: Lua runs __gc with hooks off, where no budget reaches it.
return { name = "a __gc that loops", dialect = "qcloud", timeout = 30, run = function(t)
  setmetatable({}, { __gc = function() while true do end end })
  collectgarbage = nil
end }
