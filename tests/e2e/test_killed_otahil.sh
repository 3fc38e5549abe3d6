#!/usr/bin/env bash
# kill -KILL otahil in the middle of a case: nothing it started may stay
# behind, though otahil itself cannot clean up: not the broker (mosquitto),
# not the device process (otadev), not the device's MCU (otamcu, started by
# otadev). They used to run on, re-parented to init, the device retrying its
# dead proxies for ever.
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}

# "pid comm" of every process below PID, read from /proc (parents before children)
descendants() {
  python3 - "$1" <<'PY'
import os, sys
kids = {}
for d in os.listdir("/proc"):
    if not d.isdigit(): continue
    try: stat = open(f"/proc/{d}/stat").read()
    except OSError: continue
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
    if state != "Z": kids.setdefault(int(ppid), []).append((int(d), comm))
todo = [int(sys.argv[1])]
while todo:
    for pid, comm in kids.get(todo.pop(0), []):
        print(pid, comm)
        todo.append(pid)
PY
}
# true while PID runs (a zombie waiting for a reaper counts as gone)
running() { [ -r /proc/$1/stat ] && ! awk '{ exit !($0 ~ /\) Z /) }' /proc/$1/stat; }

"$OTAHIL" run tests/fixtures/misc/long_sleep.lua --lab lab/emulated.lua --report "$WORK/out" \
  > "$WORK/out.txt" 2>&1 &
pid=$!
for _ in $(seq $((400 * M))); do
  descendants $pid > "$WORK/kids"
  grep -q " mosquitto$" "$WORK/kids" && grep -q " otadev$" "$WORK/kids" && grep -q " otamcu$" "$WORK/kids" && break
  sleep 0.05
done
sed 's/^/# /' "$WORK/kids"
check "otahil started the broker" grep -q " mosquitto$" "$WORK/kids"
check "otahil started the device process" grep -q " otadev$" "$WORK/kids"
check "the device started its MCU" grep -q " otamcu$" "$WORK/kids"
pids=$(cut -d' ' -f1 "$WORK/kids")

kill -KILL $pid
wait $pid 2>/dev/null
left=""
for _ in $(seq 60); do
  left=""
  for p in $pids; do running $p && left="$left $p"; done
  [ -z "$left" ] && break
  sleep 0.05
done
check "nothing otahil started runs 3 s after kill -KILL otahil (left:${left:- none})" [ -z "$left" ]
for p in $left; do kill -KILL $p 2>/dev/null; done # the old code's leftovers

finish
