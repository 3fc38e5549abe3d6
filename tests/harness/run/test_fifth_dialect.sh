#!/bin/bash
# A platform is policy (issue 14): a fifth dialect is a Lua library and a line
# in the catalogue, no C. A copy of scenarios/lib gains "toy" (a device that
# publishes its version on toy/<device>/version); its scenario passes a device
# that does so and fails one that reports another version. A dialect the
# catalogue does not know is exit 2 at the lab device's line. Its MQTT login
# (auth = "platform") is the library's login(t, l) and a line in the catalogue's logins.
. "$(dirname "$0")/../../e2e/lib.sh"
PUB=$(command -v mosquitto_pub || echo /usr/bin/mosquitto_pub)
ROOT=$WORK/root
mkdir -p "$ROOT/scenarios/toy"
cp -r scenarios/lib "$ROOT/scenarios/lib"
sed -i 's|^  dialects = {|  dialects = {\n    toy = "a toy platform: the device publishes its version on toy/<device>/version",|' \
  "$ROOT/scenarios/lib/catalogue.lua"
cat > "$ROOT/scenarios/lib/toy.lua" <<'LUA'
-- toy: the smallest dialect. The cloud subscribes, powers the device on and
-- takes the first version it publishes.
local M = {}
function M.version(t, timeout)
  local c = assert(mqtt.connect { id = "toy-cloud" })
  assert(c:subscribe("toy/" .. t.device.device .. "/version"))
  t.device:power_on()
  local msg = c:next("toy/#", { timeout = timeout or 10 })
  if not msg then otahil.fail("the device published no version", 2) end
  return msg.payload
end
return M
LUA
cat > "$ROOT/scenarios/toy/01_version.lua" <<'LUA'
local toy = require("toy")
return { name = "the version is reported", run = function(t)
  local v = toy.version(t)
  t.expect(v == t.device.version, "expected version " .. t.device.version .. ", device reported " .. v)
end }
LUA
lab() { # lab OUT VERSION_PUBLISHED [DIALECT]
  cat > "$1" <<LUA
device "toy1" { dialect = "${3:-toy}", product = "P", device = "toy1", version = "1.0.0", kind = "process",
  cmd = { "/bin/sh", "-c", "$PUB -h {mqtt_host} -p {mqtt_port} -q 1 -t toy/{device}/version -m $2; exec sleep 30" } }
LUA
}
lab "$WORK/good.lua" 1.0.0
lab "$WORK/bad.lua" 0.9.9
lab "$WORK/unknown.lua" 1.0.0 tencent
export OTAHIL_ROOT=$ROOT
"$OTAHIL" run "$ROOT/scenarios/toy" --lab "$WORK/good.lua" --report "$WORK/g" > "$WORK/g.txt" 2>&1
check "a fifth dialect (Lua only): a correct device passes (rc $?)" grep -q "^PASS    toy/01_version@toy1" "$WORK/g.txt"
"$OTAHIL" run "$ROOT/scenarios/toy" --lab "$WORK/bad.lua" --report "$WORK/b" > "$WORK/b.txt" 2>&1
rc=$?
check "... a wrong version FAILs at the scenario's line (rc $rc)" bash -c \
  "[ $rc -eq 1 ] && grep -q '01_version.lua:4: expected version 1.0.0, device reported 0.9.9' '$WORK/b.txt'"
"$OTAHIL" run "$ROOT/scenarios/toy" --lab "$WORK/unknown.lua" --report "$WORK/u" > "$WORK/u.txt" 2>&1
rc=$?
check "a lab dialect the catalogue does not know: exit 2 at its line (rc $rc)" bash -c \
  "[ $rc -eq 2 ] && grep -q \"unknown.lua:1: device 'toy1': dialect 'tencent' is unknown (known: aliyun, haas, qcloud, quecthing, toy)\" '$WORK/u.txt'"
# Its login is Lua too (auth = "platform"): the catalogue's logins name the dialects
# with one; without the line the lab is exit 2; with it, cloud.wire_login makes
# toy.login the decider (an ERROR while the library has none).
cat > "$WORK/auth.lua" <<LUA
device "toy1" { dialect = "toy", product = "P", device = "toy1", version = "1.0.0", kind = "process",
  auth = "platform", secret = "pw1",
  cmd = { "/bin/sh", "-c", "$PUB -h {mqtt_host} -p {mqtt_port} -u {device} -P {secret} -q 1 -t toy/{device}/version -m 1.0.0; exec sleep 30" } }
LUA
"$OTAHIL" run "$ROOT/scenarios/toy" --lab "$WORK/auth.lua" --report "$WORK/a0" > "$WORK/a0.txt" 2>&1
rc=$?
check "auth = \"platform\", the catalogue lists no login for toy: exit 2 at the device's line (rc $rc)" bash -c \
  "[ $rc -eq 2 ] && grep -q \"auth.lua:1: device 'toy1': auth = .platform.: the toy dialect has no documented login\" '$WORK/a0.txt'"
sed -i 's|^  logins = {|  logins = {\n    toy = "the toy platform: the password is the secret",|' "$ROOT/scenarios/lib/catalogue.lua"
"$OTAHIL" run "$ROOT/scenarios/toy" --lab "$WORK/auth.lua" --report "$WORK/a1" > "$WORK/a1.txt" 2>&1
check "... listed, a library with no login(t, l): ERROR naming both" grep -q \
  "^        .*device 'toy1' has auth = \"platform\", and the dialect library 'toy' has no login(t, l) policy" "$WORK/a1.txt"
sed -i 's|^return M$|function M.login(t, l) return l.password == t.device.secret, "toy: the password is the secret" end\nreturn M|' \
  "$ROOT/scenarios/lib/toy.lua"
"$OTAHIL" run "$ROOT/scenarios/toy" --lab "$WORK/auth.lua" --report "$WORK/a2" > "$WORK/a2.txt" 2>&1
check "... with toy.login: the login held, judged and accepted, PASS (rc $?)" bash -c \
  "grep -q '^PASS    toy/01_version@toy1' '$WORK/a2.txt' && grep -q 'mqtt.login.result.*action=accept' '$WORK/a2/logs/toy/01_version@toy1.log'"
unset OTAHIL_ROOT
"$OTAHIL" run scenarios/qcloud/01_version_after_boot.lua --lab "$WORK/good.lua" --report "$WORK/s" > "$WORK/s.txt" 2>&1
rc=$?
check "without the library, the toy lab is exit 2 (rc $rc)" bash -c "[ $rc -eq 2 ] && grep -q \"dialect 'toy' is unknown\" '$WORK/s.txt'"
finish
