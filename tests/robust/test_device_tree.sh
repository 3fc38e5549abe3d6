#!/usr/bin/env bash
# A process device whose program leaves processes behind (a child it does not
# exec, a child that ignores SIGTERM, a double-forked setsid daemon:
# tests/power/tree_device.sh). Power reached only the program's pid, so they
# outlived power off, the case and otahil:
#  A. a case ends with the device on: after otahil exits, nothing of it runs
#  B. kill -KILL otahil in the middle of a case: nothing of the device runs
. "$(dirname "$0")/../e2e/lib.sh"
. "$OTAHIL_SRC/tests/robust/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}
SC=tests/robust/scenarios
MARK="otahil-tree-e2e-$$-$RANDOM"
trap 'marked_kill "$MARK"; cleanup' EXIT

cat > "$WORK/lab.lua" <<LAB
device "tree" {
  dialect = "qcloud", product = "P", device = "tree", version = "1.0.0",
  kind = "process",
  cmd = { "$OTAHIL_SRC/tests/power/tree_device.sh", "$MARK" },
  console = { transport = "pty" },
  features = { "power", "console" },
}
LAB

# A. the case ends with the tree running; otahil's cleanup and exit
timeout -k 5 $((120 * M)) "$OTAHIL" run $SC/tree_up.lua --lab "$WORK/lab.lua" --report "$WORK/a" \
  --timeout-multiplier "$M" > "$WORK/a.txt" 2>&1
rc=$?
sed 's/^/# /' "$WORK/a.txt"
check "A: the case passed (exit $rc)" [ "$(outcome "$WORK/a" '*')" = "PASS" ]
left=$(marked "$MARK" | wc -l)
check "A: nothing of the device's tree runs after otahil exited (left: $left)" [ "$left" -eq 0 ]
marked_kill "$MARK"

# B. kill -KILL otahil while the tree runs
"$OTAHIL" run $SC/tree_long.lua --lab "$WORK/lab.lua" --report "$WORK/b" --timeout-multiplier "$M" \
  > "$WORK/b.txt" 2>&1 &
run=$!
for _ in $(seq $((200 * M))); do [ "$(marked "$MARK" | wc -l)" -ge 4 ] && break; sleep 0.05; done
check "B: the device's tree runs ($(marked "$MARK" | wc -l) processes)" [ "$(marked "$MARK" | wc -l)" -ge 4 ]
kill -KILL $run
wait $run 2>/dev/null
for _ in $(seq 60); do [ "$(marked "$MARK" | wc -l)" -eq 0 ] && break; sleep 0.05; done
left=$(marked "$MARK" | wc -l)
check "B: nothing of the device's tree runs 3 s after kill -KILL otahil (left: $left)" [ "$left" -eq 0 ]

finish
