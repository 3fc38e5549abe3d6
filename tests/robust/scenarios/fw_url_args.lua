-- t.fw:url refuses an expires_in that is not a sane number of seconds (NaN,
-- +-inf, beyond +-10 years) at the scenario's line, and keeps a negative one
-- (an already expired URL, on purpose: scenarios/qcloud/10_url_expired.lua).
return {
  name = "fw:url checks expires_in",
  dialect = "qcloud",
  timeout = 20,
  run = function(t)
    local _, lab_img = next(t.device.images.good)
    local img = t.fw:serve(lab_img.file or lab_img)
    local function refused(v)
      local ok, err = pcall(function() return t.fw:url(img, { expires_in = v }) end) -- line 12
      err = tostring(err)
      otahil.expect(not ok, "fw:url accepted expires_in = " .. tostring(v))
      local head = "fw_url_args.lua:12: fw:url: expires_in must be a number of seconds within +-10 years (got "
      otahil.expect(err:find(head, 1, true), "fw:url, expires_in = " .. tostring(v) .. ": " .. err)
    end
    local ten_years = 10 * 366 * 86400
    for _, v in ipairs { 0 / 0, 1 / 0, -1 / 0, 1e300, -1e300, ten_years + 1, -ten_years - 1 } do
      refused(v)
    end
    -- what is kept: already expired, the default, the edges
    local now = os.time()
    local function expires(url) return tonumber(url:match("expires=(%-?%d+)")) end
    local e = expires(t.fw:url(img, { expires_in = -60 }))
    otahil.expect(e and e <= now - 59 and e >= now - 62, "expires_in = -60 gave expires=" .. tostring(e))
    otahil.expect(expires(t.fw:url(img)) >= now + 3599, "the default is an hour")
    t.fw:url(img, { expires_in = ten_years })
    t.fw:url(img, { expires_in = -ten_years })
    -- uncaught: an ERROR located here
    t.fw:url(img, { expires_in = 0 / 0 }) -- line 31
  end,
}
