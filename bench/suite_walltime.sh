#!/bin/bash
# Prints the wall time of the Tencent suite against the emulated lab, next to
# the time the device itself spends waiting (booting, burning, giving up on a
# stalled download), measured from each case's events; then the same with two
# devices and -j 2. Usage: bench/suite_walltime.sh [BUILD_DIR]   (default: build)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
WORK=$(mktemp -d /tmp/otahil-bench-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$SRC"

# a second emulated Tencent device, for -j 2
sed 's/"emu-qcloud"/"emu-qcloud-2"/g' lab/emulated.lua > "$WORK/two.lua"
sed -n '/^device "emu-qcloud"/,/^}/p' lab/emulated.lua >> "$WORK/two.lua"

run() { # name, lab, extra args...
  local name=$1 lab=$2; shift 2
  local t0 t1
  t0=$(date +%s.%N)
  "$BUILD/otahil" run scenarios/qcloud --lab "$lab" --report "$WORK/$name" "$@" > "$WORK/$name.log" 2>&1 \
    || { echo "suite_walltime: $name did not pass:"; tail -20 "$WORK/$name.log"; exit 1; }
  t1=$(date +%s.%N)
  python3 - "$WORK/$name/report.json" "$name" "$t0" "$t1" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
name, wall = sys.argv[2], float(sys.argv[4]) - float(sys.argv[3])
def state(e):
    if e.get("kind") != "mqtt.in": return None
    try: p = json.loads(e.get("payload", ""))
    except ValueError: return None
    if p.get("type") == "report_version": return "version"
    return (p.get("report") or {}).get("progress", {}).get("state")
busy = {"boot": 0.0, "burn": 0.0, "stall": 0.0}
durations = 0.0
for c in doc["scenarios"]:
    durations += c.get("duration", 0)
    since = {}
    for e in c["events"]:
        k, t, s = e["kind"], e["t"], state(e)
        if k == "power" and e.get("state") == "on": since["boot"] = t
        if s == "done": since["boot"] = t          # the reboot into the new image
        if s == "burning": since["burn"] = t
        if k == "fault" and e.get("action") == "stall": since["stall"] = t
        if s == "version" and "boot" in since: busy["boot"] += t - since.pop("boot")
        if s in ("done", "fail") and "burn" in since: busy["burn"] += t - since.pop("burn")
        if s == "fail" and "stall" in since: busy["stall"] += t - since.pop("stall")
total = sum(busy.values())
print(f"{name:>10}: {len(doc['scenarios'])} cases, wall {wall:6.1f} s, sum of case durations {durations:6.1f} s; device waits {total:5.1f} s "
      f"(boot {busy['boot']:.1f}, burn {busy['burn']:.1f}, stall timeout {busy['stall']:.1f}); "
      f"the rest {durations - total:5.1f} s is downloads, waits for silence, reports and harness work")
PY
}
run one-device lab/emulated.lua
run two-j2 "$WORK/two.lua" -j 2
