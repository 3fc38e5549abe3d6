#!/bin/bash
# Run control (issue 15): nothing green by accident (a dialect nothing knows,
# a selected scenario that makes no case), --filter/--exclude/--tag selection,
# params, --repeat/--until-fail, --retries (an ERROR again, a FAIL never).
. "$(dirname "$0")/../../e2e/lib.sh"
S=$WORK/scenarios
mkdir -p "$S/qcloud" "$S/aliyun" "$S/mine"
cat > "$WORK/lab.lua" <<LUA
device "toy" { dialect = "qcloud", product = "P", device = "toy", version = "1.0.0",
  kind = "process", cmd = { "/bin/sleep", "30" } }
device "flaky" { dialect = "haas", product = "P", device = "flaky", version = "1.0.0",
  kind = "process", cmd = { "/bin/sleep", "30" },
  -- the first deploy fails (an ERROR of the rack), the next ones work
  deploy = { cmd = { "/bin/sh", "-c", "if test -e $WORK/deployed; then exit 0; fi; touch $WORK/deployed; exit 1" } } }
LUA
cat > "$S/qcloud/a.lua" <<'LUA'
return { name = "a", tags = { "slow", "power" }, run = function(t) end }
LUA
cat > "$S/qcloud/b.lua" <<'LUA'
return { name = "b", run = function(t) end }
LUA
cat > "$S/qcloud/p.lua" <<'LUA'
return { name = "p", params = { { cut = 0.25 }, { cut = 0.5, rst = true } },
  run = function(t) t.log("param cut=" .. tostring(t.params.cut) .. " seed=" .. t.seed) end }
LUA
cat > "$S/qcloud/typo.lua" <<'LUA'
return { name = "typo",
  dialect = "qclod",
  run = function(t) end }
LUA
cat > "$S/aliyun/c.lua" <<'LUA'
return { name = "c", run = function(t) end }
LUA
cat > "$S/mine/fails.lua" <<'LUA'
return { name = "fails", dialect = "qcloud", run = function(t) t.fail("the device did wrong") end }
LUA
cat > "$S/mine/flaky.lua" <<'LUA'
return { name = "flaky", dialect = "haas", run = function(t) end }
LUA
run() { # run NAME ARGS...: otahil run into $WORK/NAME, output in NAME.txt, rc in $rc
  local name=$1; shift
  timeout 120 "$OTAHIL" run "$@" --lab "$WORK/lab.lua" --report "$WORK/$name" > "$WORK/$name.txt" 2>&1
  rc=$?
}
ids() { python3 -c "
import json, sys
print(' '.join(sorted(s['id'] for s in json.load(open('$WORK/$1/report.json'))['scenarios'])))"; }

# a dialect nothing knows, beside a good scenario: exit 2 at its line (was: it did not run, exit 0)
run typo "$S/qcloud/a.lua" "$S/qcloud/typo.lua"
check "a typo'd dialect is exit 2 (got $rc)" [ "$rc" -eq 2 ]
check "... naming the file and line of the dialect" grep -q "typo.lua:2: dialect 'qclod' matches no lab device" "$WORK/typo.txt"

# a scenario selected but with no lab device of its dialect: said, exit 1
run nocase "$S/qcloud/a.lua" "$S/aliyun/c.lua"
check "a selected scenario with no device of its dialect: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "... the summary names it" grep -q "made no case.*aliyun/c (dialect aliyun)" "$WORK/nocase.txt"
run nocase_filtered "$S/qcloud/a.lua" "$S/aliyun/c.lua" --filter 'qcloud/*'
check "... not when the filter leaves it out (rc $rc)" [ "$rc" -eq 0 ]

# several --filter are OR'ed, --exclude takes out
Q="$S/qcloud/a.lua $S/qcloud/b.lua $S/qcloud/p.lua"
run filters $Q --filter 'qcloud/a@*' --filter 'qcloud/b@*'
check "two --filter: both cases run (got: $(ids filters))" [ "$(ids filters)" = "qcloud/a@toy qcloud/b@toy" ]
run exclude $Q "$S/mine/fails.lua" --exclude 'qcloud/p*' --exclude 'mine/*'
check "--exclude takes cases out (got: $(ids exclude))" [ "$(ids exclude)" = "qcloud/a@toy qcloud/b@toy" ]

# tags
run tag "$S/qcloud/a.lua" "$S/qcloud/b.lua" --tag power
check "--tag power keeps the tagged scenario only (got: $(ids tag))" [ "$(ids tag)" = "qcloud/a@toy" ]
run xtag "$S/qcloud/a.lua" "$S/qcloud/b.lua" --exclude-tag slow
check "--exclude-tag slow takes it out (got: $(ids xtag))" [ "$(ids xtag)" = "qcloud/b@toy" ]
check "otahil list shows the tags" bash -c "'$OTAHIL' list '$S/qcloud/a.lua' | grep -q 'tags slow power'"

# params: one case per set, the values in the id and in t.params
run params "$S/qcloud/p.lua"
check "params make one case per set (got: $(ids params))" \
  [ "$(ids params)" = "qcloud/p[cut=0.25]@toy qcloud/p[cut=0.5,rst=true]@toy" ]
check "... t.params holds the set" grep -rq "param cut=0.5 " "$WORK/params/logs/qcloud/"

# --repeat: each iteration its own seed, shown in the id; per-case counts
run repeat "$S/qcloud/b.lua" --repeat 3 --seed 42
check "--repeat 3 makes 3 cases (rc $rc)" [ "$(ids repeat | wc -w)" -eq 3 ] && [ "$rc" -eq 0 ]
check "... the first with the run's seed, the others their own" bash -c \
  "ids=\"$(ids repeat)\"; [[ \$ids == *'qcloud/b@toy#1,seed=42'* && \$ids == *'#2,seed='* && \$ids != *'#2,seed=42 '* ]]"
check "... the summary gives the pass count" grep -q "qcloud/b@toy: 3/3 passed" "$WORK/repeat.txt"
run until "$S/mine/fails.lua" --repeat 5 --until-fail
check "--until-fail: the first FAIL stops the repeats (rc $rc)" grep -q "0 passed, 1 failed.*4 skipped" "$WORK/until.txt"

# --retries: an ERROR is retried and reported flaky, a FAIL is not retried
rm -f "$WORK/deployed"
run retry "$S/mine/flaky.lua" --retries 2
check "an ERROR (deploy failed) is retried and passes: exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "... the summary says flaky" grep -q "1 passed (1 flaky" "$WORK/retry.txt"
check "... report.json keeps the attempt, its log kept beside" python3 -c "
import json, os, sys
s = [s for s in json.load(open('$WORK/retry/report.json'))['scenarios'] if s['id'] == 'mine/flaky@flaky'][0]
a = s.get('attempts', [])
sys.exit(0 if s['outcome'] == 'PASS' and s.get('flaky') and len(a) == 1 and a[0]['outcome'] == 'ERROR'
         and '.attempt1.' in a[0]['log'] and os.path.getsize(a[0]['log']) > 0 else 1)"
run noretry "$S/mine/fails.lua" --retries 3
check "a FAIL of the device is never retried (rc $rc)" bash -c \
  "[ $rc -eq 1 ] && ! grep -q retrying '$WORK/noretry.txt' && grep -q '0 passed, 1 failed' '$WORK/noretry.txt'"
finish
