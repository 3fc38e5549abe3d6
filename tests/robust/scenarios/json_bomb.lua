-- A 20 MB JSON text whose cJSON tree would take 640 MB: the tree is the
-- scenario's memory, so json.decode stops at the cap (ERROR at this line)
-- instead of building it outside the cap's sight.
return {
  name = "json.decode of a text whose tree would dwarf the memory cap",
  dialect = "qcloud",
  run = function(t)
    local small = json.decode(json.encode { a = { 1, 2, 3 }, b = "x" })
    t.expect(small.a[3] == 3 and small.b == "x", "json round trip broken")
    local text = "[" .. ("1,"):rep(10000000) .. "1]"
    local v = json.decode(text)
    t.fail("decoded " .. #v .. " numbers within the cap")
  end,
}
