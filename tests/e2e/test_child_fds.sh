#!/usr/bin/env bash
# Children get none of otahil's descriptors: libmosquitto's sockets (and its
# internal socketpair) are not close-on-exec and uv_spawn does not close them,
# so the device process used to hold otahil's cloud MQTT connection. Every
# child goes through otahil-child, which closes all fds above 2 before exec.
# A qcloud case: otahil's cloud client (qcloud.attach) is connected before the
# device is powered on, so the device is started while those sockets are open.
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}

mkdir -p "$WORK/sc"
cat > "$WORK/sc/01.lua" <<'LUA'
local qcloud = require "qcloud"
return { name = "a long qcloud case (ended from outside)", dialect = "qcloud", timeout = 120,
  run = function(t)
    qcloud.attach(t) -- otahil's cloud client connects, then the device is powered on
    otahil.sleep(100)
  end }
LUA
"$OTAHIL" run "$WORK/sc/01.lua" --lab lab/emulated.lua --filter '*@emu-qcloud' --report "$WORK/out" \
  > "$WORK/out.txt" 2>&1 &
pid=$!
trap 'kill -KILL $pid 2>/dev/null; cleanup' EXIT

# the pid of otahil's descendant named COMM, if it runs (a process device runs
# under otahil-child's tree supervisor, a grandchild of otahil)
child() {
  local kids p
  kids=$(ps -o pid= --ppid "$pid" | tr -d ' ')
  for p in $kids $(for k in $kids; do ps -o pid= --ppid "$k"; done | tr -d ' '); do
    [ "$(ps -o comm= -p "$p" 2>/dev/null)" = "$1" ] && { echo "$p"; return; }
  done
}
# socket inodes PID holds, one a line ("socket:[123]" links in /proc/PID/fd)
sockets() { find /proc/"$1"/fd -lname 'socket:*' -printf '%l\n' 2>/dev/null | sort -u; }
dev=
for _ in $(seq $((300 * M))); do
  dev=$(child otadev) # started after the cloud client connected (see above)
  [ -n "$dev" ] && break
  sleep 0.05
done
check "the device process runs (pid ${dev:-none})" [ -n "$dev" ]
sockets "$pid" > "$WORK/own"
check "otahil holds sockets ($(wc -l < "$WORK/own"))" [ -s "$WORK/own" ]
for comm in otadev mosquitto; do
  p=$(child $comm)
  [ -n "$p" ] || { not_ok "$comm runs"; continue; }
  sockets "$p" | comm -12 - "$WORK/own" > "$WORK/shared"
  check "$comm holds none of otahil's sockets (shared: $(tr '\n' ' ' < "$WORK/shared"))" [ ! -s "$WORK/shared" ]
done

kill -INT $pid
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
finish
