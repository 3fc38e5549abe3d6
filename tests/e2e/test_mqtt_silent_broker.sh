#!/usr/bin/env bash
# A broker that never answers (a listener on 127.0.0.1 whose accept queue is
# full: SYNs dropped, as by a firewall) must not stall the run: mqtt.connect
# ends at its own timeout with nil and why, a case's deadline still fires, and
# SIGTERM is honoured at once. (The old blocking connect held the whole loop
# for ~130 s, the kernel's SYN retries.)
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}

timeout 300 python3 - "$WORK/silent.port" <<'PY' &
import os, socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
fill = []
for _ in range(4):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(s.getsockname())
    except BlockingIOError: pass
    fill.append(c)
time.sleep(0.2)
with open(sys.argv[1] + ".tmp", "w") as f: f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(300)
PY
LISTENER=$!
trap 'kill $LISTENER 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do [ -s "$WORK/silent.port" ] && break; sleep 0.05; done
PORT=$(cat "$WORK/silent.port")
BROKER="mqtt://127.0.0.1:$PORT"
now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }
below() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$1" "$2"; }

# 1. mqtt.connect{timeout = 1} returns nil, why after ~1 s (the fixture checks the times)
t0=$(now)
timeout -k 5 60 "$OTAHIL" run tests/fixtures/misc/mqtt_silent_broker.lua --lab lab/emulated.lua \
  --broker "$BROKER" --timeout-multiplier "$M" --report "$WORK/conn" > "$WORK/conn.txt" 2>&1
rc=$?
took=$(secs "$t0" "$(now)")
check "silent broker: mqtt.connect gives up at its timeout, nil and why (exit $rc, ${took} s)" \
  [ "$(outcome "$WORK/conn" '*')" = "PASS" ]
check "silent broker: the run took ${took} s, not the kernel's SYN retries" below "$took" $((15 * M))
grep -h "mqtt.connect: " "$WORK"/conn/logs/*/*.log 2>/dev/null | head -2

# 2. a connect with a long timeout does not outlast the case's deadline (2 s)
t0=$(now)
timeout -k 5 60 "$OTAHIL" run tests/fixtures/misc/mqtt_silent_deadline.lua --lab lab/emulated.lua \
  --broker "$BROKER" --timeout-multiplier "$M" --report "$WORK/dl" > "$WORK/dl.txt" 2>&1
rc=$?
took=$(secs "$t0" "$(now)")
check "silent broker: the deadline fires: TIMEOUT (exit $rc)" [ "$(outcome "$WORK/dl" '*')" = "TIMEOUT" ]
check "silent broker: the deadline case ended after ${took} s" below "$took" $((2 * M + 10))

# 3. SIGTERM during such a connect ends the run at once (deadline 60 s here)
"$OTAHIL" run tests/fixtures/misc/mqtt_silent_deadline.lua --lab lab/emulated.lua \
  --broker "$BROKER" --timeout-multiplier 30 --report "$WORK/term" > "$WORK/term.txt" 2>&1 &
pid=$!
for _ in $(seq 200); do grep -q "1 case(s)" "$WORK/term.txt" 2>/dev/null && break; sleep 0.05; done
sleep 1
kill -TERM $pid
gone=no
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || { gone=yes; break; }; sleep 0.05; done
[ $gone = no ] && kill -KILL $pid
wait $pid
check "silent broker: SIGTERM ends the run within 5 s" [ $gone = yes ]
check "silent broker: the case is ERROR (terminated)" [ "$(outcome "$WORK/term" '*')" = "ERROR" ]

finish
