-- 40 events of 16 MB each, and 60000 failing json.encode calls inside pcall.
return { name = "event and error flood", dialect = "qcloud", timeout = 60, run = function(t)
  local big = string.rep("x", 16 * 1024 * 1024)
  for i = 1, 40 do otahil.event("big", { n = i, data = big }) end
  local loop = {}
  loop.self = loop
  for _ = 1, 60000 do pcall(json.encode, loop) end
  for i = 1, 300000 do otahil.event("small", { i = i }) end
end }
