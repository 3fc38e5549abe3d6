#!/bin/bash
# Every standard scenario twice in one otahil process (lua-nginx-module's
# repeat_each(2)): the second run of each case has the same outcome as the
# first. Catches state that leaks from a case into the next (the cloud's
# clients, images, faults, a device's files).
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}
"$OTAHIL" run scenarios/qcloud scenarios/aliyun scenarios/haas scenarios/quecthing --lab lab/emulated.lua \
  --report "$WORK/r" -j 2 --repeat 2 --timeout-multiplier "$M" > "$WORK/r.txt" 2>&1
rc=$?
tail -3 "$WORK/r.txt" | sed 's/^/# /'
check "every standard scenario, twice in one process: exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "each case's second run has the outcome of its first" python3 - "$WORK/r/report.json" <<'PY'
import collections, json, sys
runs, why = collections.defaultdict(dict), {}
for s in json.load(open(sys.argv[1]))["scenarios"]:
    if s["id"] == "otahil/run":
        continue
    base, it = s["id"].rsplit("#", 1)
    runs[base][it.split(",")[0]] = s["outcome"]
    if s["outcome"] != "PASS":
        why[s["id"]] = s.get("message", "")
bad = [(b, r) for b, r in runs.items() if set(r) != {"1", "2"} or r["1"] != r["2"]]
for b, r in bad:
    print("# differs:", b, r)
for i, m in why.items():
    print("#  ", i, ":", m[:600])
sys.exit(0 if runs and not bad else 1)
PY
finish
