-- cloud: what the dialect libraries (qcloud, aliyun, haas, quecthing) share on
-- the cloud side. A dialect's device object has `t`, `name` and
-- next_report(timeout) -> the next report, decoded and checked, or nil.
local M = {}

-- Waits for a report for which pred(r) is true and returns it; a string from
-- pred FAILs with that text. With nothing accepted within `timeout` seconds
-- (the lab's seconds: scaled here by the timeout multiplier) it FAILs naming
-- `what` and the last report, as describe(r) tells it. `level` is where the
-- FAIL points, as for otahil.fail, counted from the caller of M.wait_for.
function M.wait_for(dev, pred, timeout, what, level, describe)
  local mult = dev.t.timeout_multiplier or 1
  local deadline = otahil.now() + timeout * mult
  local last
  while true do
    local left = deadline - otahil.now()
    if left <= 0 then break end
    local r = dev:next_report(left / mult)
    if not r then break end
    local verdict = pred(r)
    if verdict == true then return r end
    if type(verdict) == "string" then otahil.fail(verdict, level + 1) end
    last = r
  end
  local seen = last and describe(last) or "nothing"
  otahil.fail(("device '%s': no %s within %gs (last message: %s)"):format(dev.name, what, timeout, seen), level + 1)
end

return M
