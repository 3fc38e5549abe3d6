#!/bin/bash
# Case files never collide (issue 13): ids map to files one to one
# (scenarios a/b-c.lua and a-b/c.lua keep their own logs, also at -j 2), two
# files making the same case id are exit 2 naming both, device names with '/'
# or control bytes are exit 2, and an image version cannot write outside the
# report folder.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"
S=$WORK/sc
mkdir -p "$S/a" "$S/a-b" "$S/x/qcloud" "$S/y/qcloud"
for f in "$S/a/b-c.lua" "$S/a-b/c.lua"; do
  printf 'return { name = "%s", dialect = "qcloud", timeout = 10, run = function(t) otahil.log("I am %s") end }\n' "$f" "$f" > "$f"
done
"$OTAHIL" run "$S/a" "$S/a-b" --lab lab/emulated.lua --filter '*@emu-qcloud' --report "$WORK/r" -j 2 > "$WORK/r.txt" 2>&1
rc=$?
check "a/b-c.lua and a-b/c.lua both run and pass (rc $rc)" [ "$rc" -eq 0 ]
check "each has its own log (old code: one file, a-b-c@emu-qcloud.log, for both)" bash -c \
  "grep -q 'I am $S/a/b-c.lua' '$WORK/r/logs/a/b-c@emu-qcloud.log' && grep -q 'I am $S/a-b/c.lua' '$WORK/r/logs/a-b/c@emu-qcloud.log'"

cp scenarios/qcloud/02_happy_path.lua "$S/x/qcloud/02_happy_path.lua"
cp scenarios/qcloud/02_happy_path.lua "$S/y/qcloud/02_happy_path.lua"
"$OTAHIL" run "$S/x" "$S/y" --lab lab/emulated.lua --report "$WORK/d" > "$WORK/d.txt" 2>&1
rc=$?
check "two files making one case id: exit 2 (got $rc; old code: both ran, one log overwrote the other)" [ "$rc" -eq 2 ]
check "two files making one case id: both named" grep -q "$S/x/qcloud/02_happy_path.lua and $S/y/qcloud/02_happy_path.lua both make the case qcloud/02_happy_path@emu-qcloud" "$WORK/d.txt"

for bad in 'x/y' 'a\nb'; do
  printf 'device "%s" { dialect = "qcloud", product = "P", device = "d", version = "1.0.0", cmd = { "/bin/true" } }\n' "$bad" > "$WORK/bad.lua"
  "$OTAHIL" run "$S/a" --lab "$WORK/bad.lua" --report "$WORK/b" > "$WORK/b.txt" 2>&1
  rc=$?
  check "device name '$bad': exit 2 (got $rc)" [ "$rc" -eq 2 ]
  check "device name '$bad': located" grep -q "bad.lua:1: device name .* must be 1..128 printable bytes without '/'" "$WORK/b.txt"
done
printf 'device "ok" { dialect = "qcloud", product = "P/Q", device = "d", version = "1.0.0", cmd = { "/bin/true" } }\n' > "$WORK/bad.lua"
"$OTAHIL" run "$S/a" --lab "$WORK/bad.lua" --report "$WORK/b" > "$WORK/b.txt" 2>&1
check "a product with '/': exit 2, located" grep -q "bad.lua:1: device 'ok': product 'P/Q' must be" "$WORK/b.txt"

mkdir -p "$WORK/deep/er"
printf 'device "ok" { dialect = "qcloud", product = "P", device = "d", version = "1.0.0", cmd = { "/bin/true" },\n  images = { good = { ["2.0.0"] = otadev_image { version = "/../../../esc", size = 1024 } } } }\n' > "$WORK/deep/er/esc.lua"
"$OTAHIL" run "$S/a" --lab "$WORK/deep/er/esc.lua" --report "$WORK/deep/er/out" > "$WORK/e.txt" 2>&1
check "otadev_image{version = '/../../../esc'}: nothing written outside the report" bash -c \
  "[ -z \"\$(find '$WORK' -name '*esc*' -newer '$WORK/e.txt' -o -name '*esc*' ! -path '$WORK/deep/er/*' ! -name 'esc.lua' 2>/dev/null | grep -v '^$WORK/deep/er/out/work/images/')\" ]"
check "otadev_image{version = '/../../../esc'}: the image is in work/images" bash -c "ls '$WORK/deep/er/out/work/images/' | grep -q esc"
finish
