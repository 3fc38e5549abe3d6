#!/usr/bin/env bash
# A death pattern that comes in the same console read as the awaited line FAILs the case.
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}

# 2. the panic line and the awaited line in one write
cat > "$WORK/panic.lua" <<'LAB'
device "sh-board" {
  dialect = "qcloud", product = "P", device = "sh-board", version = "1.0.0",
  kind = "process",
  cmd = { "/bin/sh", "-c", "sleep 0.3; printf 'Kernel panic - not syncing: VFS\\r\\nboot ok\\r\\n'; sleep 30" },
  console = { transport = "pty", death = { "Kernel panic" } },
  features = { "power", "console" },
}
LAB
for i in 1 2 3; do
  timeout 60 "$OTAHIL" run tests/fixtures/misc/panic_same_read.lua --lab "$WORK/panic.lua" --report "$WORK/pa$i" \
    --timeout-multiplier "$M" > "$WORK/pa$i.txt" 2>&1
  check "panic in the same read (run $i): FAIL" [ "$(outcome "$WORK/pa$i" '*')" = "FAIL" ]
done
check "panic in the same read: the pattern is named" grep -q "death pattern 'Kernel panic'" "$WORK/pa1.txt"

finish
