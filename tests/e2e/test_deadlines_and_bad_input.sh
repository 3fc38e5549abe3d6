#!/usr/bin/env bash
# A wait without end is a TIMEOUT at the deadline, a runaway script an ERROR at file:line; errors found before running are exit 2 with a located one-line message.
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}

# 3. a wait without end is a TIMEOUT at the deadline; a runaway script an ERROR with file:line
"$OTAHIL" run tests/fixtures/misc/endless_wait.lua tests/fixtures/misc/runaway.lua --lab lab/emulated.lua --report "$WORK/misc" > "$WORK/misc.txt" 2>&1
rc=$?
check "timeout/error fixtures: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "endless wait is TIMEOUT" [ "$(outcome "$WORK/misc" 'misc/endless_wait@*')" = "TIMEOUT" ]
check "runaway loop is ERROR" [ "$(outcome "$WORK/misc" 'misc/runaway@*')" = "ERROR" ]
check "runaway message names file and line" grep -q "runaway.lua:7: instruction budget" "$WORK/misc.txt"
check "TIMEOUT is a junit error of type TIMEOUT" grep -q 'type="TIMEOUT"' "$WORK/misc/junit.xml"
check "no otadev left after a timeout" bash -c "! pgrep -f '[o]tadev.*$WORK/misc' >/dev/null"

# 4. errors found before running are exit 2 with a located one-line message
"$OTAHIL" run tests/fixtures/bad --lab lab/emulated.lua --report "$WORK/bad" > "$WORK/bad.txt" 2>&1
check "syntax error in a scenario: exit 2" [ $? -eq 2 ]
check "syntax error names file:line" grep -q "syntax.lua:4:" "$WORK/bad.txt"
printf 'device "x" { dialect = "qcloud", product = "P", device = "d", version = "1", cmd = {"x"}, colour = 1 }\n' > "$WORK/badlab.lua"
"$OTAHIL" run scenarios/qcloud --lab "$WORK/badlab.lua" --report "$WORK/bad2" > "$WORK/bad2.txt" 2>&1
check "unknown lab key: exit 2" [ $? -eq 2 ]
check "unknown lab key is located" grep -q "badlab.lua:1: device 'x': key 'colour' is unknown" "$WORK/bad2.txt"
"$OTAHIL" run scenarios/nothing-here --lab lab/emulated.lua --report "$WORK/bad3" > /dev/null 2>&1
check "missing scenario path: exit 2" [ $? -eq 2 ]
"$OTAHIL" run scenarios/qcloud --report "$WORK/bad4" > /dev/null 2>&1
check "missing --lab: exit 2" [ $? -eq 2 ]
"$OTAHIL" frobnicate > /dev/null 2>&1
check "unknown command: exit 2" [ $? -eq 2 ]

finish
