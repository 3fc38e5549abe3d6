#!/usr/bin/env bash
# A run whose every case is skipped exits 1 ("nothing ran"); a feature name no catalogue knows is a lab error.
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}

# 4. every case skipped (the device lacks the feature the scenario requires);
# a feature name no catalogue knows is a lab error instead
sed 's/features = { "power", "console", "console-lines", "resume", "rollback", "burn-check" }/features = { "Power", "console" }/' lab/emulated.lua > "$WORK/typo.lua"
timeout 60 "$OTAHIL" run scenarios/qcloud/02_*.lua --lab "$WORK/typo.lua" --report "$WORK/ty" > "$WORK/ty.txt" 2>&1
rc=$?
check "an unknown feature in the lab: exit 2 (got $rc)" [ "$rc" -eq 2 ]
check "an unknown feature: located and the known ones listed" \
  grep -q "typo.lua:[0-9]*: device 'emu-qcloud': feature 'Power' is unknown (known: .*power" "$WORK/ty.txt"
sed 's/features = { "power", "console", "console-lines", "resume", "rollback", "burn-check" }/features = { "console" }/' lab/emulated.lua > "$WORK/nopower.lua"
timeout 60 "$OTAHIL" run scenarios/qcloud/02_*.lua --lab "$WORK/nopower.lua" --report "$WORK/sk" > "$WORK/sk.txt" 2>&1
rc=$?
check "every case skipped: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "every case skipped: says nothing ran" grep -q "nothing ran" "$WORK/sk.txt"
check "every case skipped: the case is SKIP" [ "$(outcome "$WORK/sk" '*' | tr ' ' '\n' | sort -u)" = "SKIP" ]

finish
