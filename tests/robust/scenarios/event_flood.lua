-- 40 events of 16 MB each, 60000 failing json.encode calls inside pcall, and
-- more small events than a case's log keeps. Each part yields once, so the
-- watchdog (a bound per resumption) judges the parts, not their sum.
return { name = "event and error flood", dialect = "qcloud", timeout = 60, run = function(t)
  local big = string.rep("x", 16 * 1024 * 1024)
  for i = 1, 40 do otahil.event("big", { n = i, data = big }) end
  otahil.sleep(0.01)
  local loop = {}
  loop.self = loop
  for _ = 1, 60000 do pcall(json.encode, loop) end
  otahil.sleep(0.01)
  for i = 1, 250000 do otahil.event("small", { i = i }) end
end }
