#!/usr/bin/env bash
# scripts/pty-rack (issue 16, first contact): one command brings up the
# example rack of lab/examples/pty-board.lua, runs otahil against it and
# tears it down; --up DIR keeps it up until SIGTERM/Ctrl-C. Nothing of the
# rack outlives either.
. "$(dirname "$0")/../e2e/lib.sh"
export OTAHIL
gone() { ! pgrep -f "$1" > /dev/null || { pgrep -fa "$1" | head -3; false; }; } # gone PATTERN: no such process

timeout 300 scripts/pty-rack scenarios/qcloud/01_version_after_boot.lua --filter '*@pty-b*' \
  --report "$WORK/r" > "$WORK/run.txt" 2>&1
rc=$?
check "pty-rack: one command, both boards PASS (rc $rc; $(outcome "$WORK/r" '*' | xargs))" \
  [ "$rc" -eq 0 -a "$(outcome "$WORK/r" '*' | xargs)" = "PASS PASS" ]
[ "$rc" -eq 0 ] || tail -20 "$WORK/run.txt"
dir=$(sed -n 's/^pty-rack: up in \([^:]*\):.*/\1/p' "$WORK/run.txt")
check "... it said where the rack was ($dir) and tore it down" bash -c "[ -n '$dir' ] && grep -q 'torn down' '$WORK/run.txt'"
check "... no board, ser2net or pdudaemon of it left, its folder gone" \
  eval "[ -n '$dir' ] && gone '$dir' && [ ! -e '$dir' ]"

# a failing run's status is the command's
cat > "$WORK/fails.lua" <<'LUA'
return { name = "fails on purpose", dialect = "qcloud", run = function() otahil.fail("on purpose") end }
LUA
timeout 300 scripts/pty-rack "$WORK/fails.lua" --filter '*@pty-b2' \
  --report "$WORK/f" > "$WORK/fail.txt" 2>&1
rc=$?
check "pty-rack: otahil's status is its own (a FAIL: rc $rc)" [ "$rc" -eq 1 ]

timeout 300 scripts/pty-rack --up "$WORK/up" > "$WORK/up.txt" 2>&1 &
UP=$!
for _ in $(seq 300); do grep -q "Ctrl-C tears" "$WORK/up.txt" && break; sleep 0.1; done
check "pty-rack --up DIR: up, the lab file written" bash -c "grep -q 'lab $WORK/up/pty-board.lua' '$WORK/up.txt' &&
  grep -q 'tcp_port = [0-9]*,' '$WORK/up/pty-board.lua'"
"$OTAHIL" run scenarios/qcloud/01_version_after_boot.lua --lab "$WORK/up/pty-board.lua" --filter '*@pty-b2' \
  --report "$WORK/u" > "$WORK/u.txt" 2>&1
check "... a run against it passes" [ "$(outcome "$WORK/u" '*')" = PASS ]
kill -TERM "$UP"
for _ in $(seq 200); do kill -0 "$UP" 2>/dev/null || break; sleep 0.1; done
check "... SIGTERM tears it down: nothing left" eval "! kill -0 $UP 2>/dev/null && gone '$WORK/up/'"
kill -KILL "$UP" 2>/dev/null
finish
