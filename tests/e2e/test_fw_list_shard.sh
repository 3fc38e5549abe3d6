#!/usr/bin/env bash
# otahil fw build and list; --shard I/N deals the filtered cases round-robin, disjoint and complete.
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}

# 6. fw build and list
"$OTAHIL" fw build --version 3.1.4 --size 4096 --fail-boot -o "$WORK/img.bin" > /dev/null
check "fw build writes an image of the asked size" [ "$(stat -c %s "$WORK/img.bin")" -eq 4096 ]
check "list names every scenario" [ "$("$OTAHIL" list scenarios/qcloud | wc -l)" -eq "$(ls scenarios/qcloud/*.lua | wc -l)" ]

# console_next applies re and contains together
"$OTAHIL" run tests/fixtures/misc/console_next.lua --lab lab/emulated.lua --report "$WORK/cn" > /dev/null 2>&1
check "console_next: re and contains both apply" [ "$(outcome "$WORK/cn" '*@emu-qcloud')" = "PASS" ]

# c:next gives payloads exactly: NUL bytes, longer than the log keeps
"$OTAHIL" run tests/fixtures/misc/mqtt_exact.lua --lab lab/emulated.lua --report "$WORK/mx" > /dev/null 2>&1
check "c:next: binary and 200 KiB payloads as sent" [ "$(outcome "$WORK/mx" '*@emu-qcloud')" = "PASS" ]

# a fault that could never apply raises instead of passing unnoticed
"$OTAHIL" run tests/fixtures/misc/mqtt_corrupt_raises.lua --lab lab/emulated.lua --report "$WORK/mc" > /dev/null 2>&1
check "t.net.mqtt:corrupt raises (use corrupt_publish)" [ "$(outcome "$WORK/mc" '*@emu-qcloud')" = "PASS" ]

# the sandbox reads only the lab's images (digest.file, t.fw:serve, t.fw:read)
"$OTAHIL" run tests/fixtures/misc/read_outside.lua --lab lab/emulated.lua --report "$WORK/ro" > /dev/null 2>&1
check "files outside the lab cannot be read by a scenario" [ "$(outcome "$WORK/ro" '*@emu-qcloud')" = "PASS" ]

# the README's form: lab and report folder relative to the current folder
rel=$(realpath --relative-to="$OTAHIL_SRC" "$WORK")/rel/
"$OTAHIL" run scenarios/qcloud --lab lab/emulated.lua --filter 'qcloud/01_*@emu-qcloud' --report "$rel" \
  > "$WORK/rel.txt" 2>&1
check "a relative --report folder works (exit $?)" [ "$(outcome "$WORK/rel" '*')" = "PASS" ]

# 7. --shard I/N deals the filtered cases round-robin: the parts are disjoint and cover them all
for i in 1 2; do
  "$OTAHIL" run scenarios/qcloud --lab lab/emulated.lua --filter 'qcloud/0[189]_*' --shard $i/2 \
    --report "$WORK/shard$i" > /dev/null 2>&1
done
ids() { python3 -c "import json,sys; print(' '.join(s['id'] for s in json.load(open(sys.argv[1]))['scenarios']))" "$1/report.json"; }
check "shard 1/2 runs the 1st and 3rd case" [ "$(ids "$WORK/shard1")" = "qcloud/01_version_after_boot@emu-qcloud qcloud/09_url_not_found@emu-qcloud" ]
check "shard 2/2 runs the 2nd case" [ "$(ids "$WORK/shard2")" = "qcloud/08_wrong_md5@emu-qcloud" ]
"$OTAHIL" run scenarios/qcloud --lab lab/emulated.lua --shard 3/2 --report "$WORK/shard3" > "$WORK/shard3.txt" 2>&1
check "--shard 3/2: exit 2" [ $? -eq 2 ]
check "--shard 3/2: says what is expected" grep -q "expected I/N" "$WORK/shard3.txt"

finish
