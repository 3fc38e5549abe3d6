#!/usr/bin/env bash
# Keeps the scenario author's documentation honest:
#  1. every example in scenarios/examples/ PASSes against the emulated lab;
#  2. every API name the docs mention (docs/lua-api.md, lab.md, dialects.md:
#     t.fw:serve, otahil.expect,
#     c:next, qc:push_update, ...) exists, looked up by a scenario in a real
#     case, and every function the C side gives a scenario is mentioned;
#  3. the check can fail: a made-up name in the list makes it FAIL.
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}
DOC=$WORK/api-docs.md # the scenario API, the lab file and the dialect libraries, read as one
cat docs/lua-api.md docs/lab.md docs/dialects.md > "$DOC"

# 1. the examples
n=$(ls scenarios/examples/*.lua 2>/dev/null | wc -l)
check "at least 3 examples (found $n)" [ "$n" -ge 3 ]
timeout 300 "$OTAHIL" run scenarios/examples --lab lab/emulated.lua --report "$WORK/ex" \
  --timeout-multiplier "$M" > "$WORK/ex.txt" 2>&1
rc=$?
check "examples: exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "examples: $n cases, each PASS" [ "$(outcome "$WORK/ex" 'examples/*')" = "$(printf 'PASS %.0s' $(seq "$n") | sed 's/ $//')" ]
[ "$rc" -eq 0 ] || cat "$WORK/ex.txt"

# 2. the names. A name is a known receiver (t, t.device, t.device.uart, t.net,
# t.net.http, t.net.mqtt, t.fw, t.serial, a module, `c` for an MQTT client, or
# qc/ay/hs/qt for what the dialects' attach returns) then . or : and a name.
# Quoted event kinds ("mqtt.in") and file names (scenarios/lib/qcloud.lua) are
# not names.
names=$(grep -oP '(?<![\w/.$"'"'"'-])(?:t(?:\.(?:device|uart|net|http|mqtt|fw|serial))*|otahil|mqtt|json|digest|c|qcloud|aliyun|haas|quecthing|qc|ay|hs|qt)[.:][a-z_][a-z_0-9]*' "$DOC" |
  grep -v '\.lua$' | LC_ALL=C sort -u)
count=$(printf '%s\n' "$names" | grep -c .)
check "the page names many API functions ($count)" [ "$count" -ge 100 ]

# the C side's contract (harness/run/case_table.h) and the page's table of t
# name the same fields
hdr=$(grep -oP '(?<![\w.])t\.[a-z_]+(?:\.[a-z_]+)?' harness/run/case_table.h | LC_ALL=C sort -u)
tbl=$(sed -n '/^## `t`: the case/,/^## /p' docs/lua-api.md | grep -oP '^\| `\Kt\.[a-z_.]+' | LC_ALL=C sort -u)
check "case_table.h names every field of the page's t table" [ -z "$(comm -13 <(echo "$hdr") <(echo "$tbl"))" ]
check "every t field case_table.h names is on the page" [ -z "$(comm -23 <(echo "$hdr") <(printf '%s\n' $names | LC_ALL=C sort -u))" ]

# make_checker FILE NAME... : a scenario that looks every NAME up
make_checker() {
  local out=$1; shift
  {
    echo 'local names = {'
    for nm in "$@"; do echo "  \"$nm\","; done
    cat <<'LUA'
}
return {
  name = "every API name in the docs exists, every C function is there",
  dialect = "quecthing", -- its emulated device has the module-MCU line (t.serial)
  timeout = 60,
  run = function(t)
    local qcloud, aliyun, haas, quecthing = require "qcloud", require "aliyun", require "haas", require "quecthing"
    local c = assert(mqtt.connect { id = "doc-names-" .. t.id })
    local roots = {
      t = t, otahil = otahil, mqtt = mqtt, json = json, digest = digest, c = c,
      qcloud = qcloud, aliyun = aliyun, haas = haas, quecthing = quecthing,
      -- device objects of every dialect, on this device, powered off: only looked at
      qc = qcloud.attach(t, { power = false }), ay = aliyun.attach(t, { power = false }),
      hs = haas.attach(t, { power = false }), qt = quecthing.attach(t, { power = false }),
    }
    local function resolve(path)
      local root, rest = path:match("^([%w_]+)(.*)$")
      local v = roots[root]
      for k in rest:gmatch("%.([%w_]+)") do
        if v == nil then return nil end
        v = v[k]
      end
      return v
    end
    -- forward: what the page names exists (a method is a function)
    local missing, doc = {}, {}
    for _, n in ipairs(names) do
      doc[n] = true
      local path, sep, key = n:match("^(.-)([.:])([%w_]+)$")
      local obj = resolve(path)
      local v = obj ~= nil and obj[key] or nil
      if v == nil or (sep == ":" and type(v) ~= "function") then missing[#missing + 1] = n end
    end
    t.expect(#missing == 0, "the docs name what does not exist: " .. table.concat(missing, ", "))
    -- backward: every function and field the C side gives a scenario is on the page
    local function named(prefix, k) return doc[prefix .. "." .. k] or doc[prefix .. ":" .. k] end
    local absent = {}
    local function all(prefix, tbl, alt)
      for k in pairs(tbl) do
        if type(k) == "string" and not named(prefix, k) and not (alt and named(alt, k)) then
          absent[#absent + 1] = prefix .. "." .. k
        end
      end
    end
    all("t", t)
    all("otahil", otahil)
    all("mqtt", mqtt)
    all("json", json)
    all("digest", digest)
    all("c", getmetatable(c).__index)
    all("t.device", getmetatable(t.device).methods)
    all("t.device.uart", getmetatable(t.device.uart).__index)
    all("t.net", t.net)
    all("t.net.http", getmetatable(t.net.http).__index, "t.net.mqtt")
    all("t.fw", getmetatable(t.fw).__index)
    all("t.serial", getmetatable(t.serial).__index)
    table.sort(absent)
    t.expect(#absent == 0, "the docs do not mention: " .. table.concat(absent, ", "))
    c:close()
  end,
}
LUA
  } > "$out"
}

mkdir -p "$WORK/docnames" "$WORK/docbad"
# shellcheck disable=SC2086
make_checker "$WORK/docnames/check_names.lua" $names
timeout 120 "$OTAHIL" run "$WORK/docnames" --lab lab/emulated.lua --report "$WORK/names" \
  --timeout-multiplier "$M" > "$WORK/names.txt" 2>&1
rc=$?
check "every name on the page exists, every C function is on the page (exit $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || cat "$WORK/names.txt"

# 3. the check fails when the page names something that does not exist
# shellcheck disable=SC2086
make_checker "$WORK/docbad/check_names.lua" $names t.fw:no_such_method otahil.no_such_function
timeout 120 "$OTAHIL" run "$WORK/docbad" --lab lab/emulated.lua --report "$WORK/bad" \
  --timeout-multiplier "$M" > "$WORK/bad.txt" 2>&1
check "a made-up name FAILs the check" [ "$(outcome "$WORK/bad" 'docbad/*')" = "FAIL" ]
check "the FAIL names the made-up names" grep -q "does not exist: t.fw:no_such_method, otahil.no_such_function" "$WORK/bad.txt"

finish
