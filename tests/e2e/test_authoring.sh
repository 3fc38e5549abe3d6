#!/bin/bash
# Scenario authoring (issue 16): the fault API does what it reads, misuse is an
# error at the author's line. Scenarios in tests/e2e/authoring/.
. "$(dirname "$0")/lib.sh"
M=${OTAHIL_TIMEOUT_MULTIPLIER:-1}
SC=tests/e2e/authoring
run() { # run NAME SCENARIO
  timeout -k 5 $((120 * M)) "$OTAHIL" run "$SC/$2" --lab lab/emulated.lua --filter '*@emu-qcloud' \
    --report "$WORK/$1" > "$WORK/$1.txt" 2>&1
}

run faults fault_api.lua
check "fault API: handles, events, reset (old code: 'fault' on add, reset undone by clear)" \
  [ "$(outcome "$WORK/faults" '*')" = PASS ]
[ "$(outcome "$WORK/faults" '*')" = PASS ] || cat "$WORK/faults.txt"

run keys unknown_key.lua
check "unknown key: exit 1" [ $? -eq 1 ]
check "unknown key: named with the accepted ones at the scenario's line" grep -q \
  "unknown_key.lua:5: cut: unknown key 'at_body_bytes' (at_body_byte, at_byte, after_ms, rst, tls_alert, times, dir)" "$WORK/keys.txt"
grep -q "unknown key" "$WORK/keys.txt" || cat "$WORK/keys.txt"

# keys_all uses t.serial: the device asks for the module-MCU line through its env
sed 's|^  device = "emu-qcloud",|&\n  env = { OTAHIL_MCU_TTY = "{mcu_tty}" },|' lab/emulated.lua > "$WORK/serial-lab.lua"
timeout -k 5 $((120 * M)) "$OTAHIL" run "$SC/keys_all.lua" --lab "$WORK/serial-lab.lua" --filter '*@emu-qcloud' \
  --report "$WORK/allkeys" > "$WORK/allkeys.txt" 2>&1
check "unknown keys: every table-taking call (old code: silently ignored)" [ "$(outcome "$WORK/allkeys" '*')" = PASS ]
[ "$(outcome "$WORK/allkeys" '*')" = PASS ] || grep -A3 FAIL "$WORK/allkeys.txt"

run libkey lib_key.lua
check "dialect helper: unknown key at the scenario's line (old code: qcloud.lua's assert)" grep -q \
  "lib_key.lua:8: expect_progress: unknown key 'step' (state, timeout, idle)" "$WORK/libkey.txt"
grep -q "unknown key" "$WORK/libkey.txt" || cat "$WORK/libkey.txt"

run uartopt uart_optional.lua
check "uart:expect{optional = true}: nil on timeout (old code: FAIL)" [ "$(outcome "$WORK/uartopt" '*')" = PASS ]
[ "$(outcome "$WORK/uartopt" '*')" = PASS ] || grep -A3 FAIL "$WORK/uartopt.txt"

run liberr lib_error.lua
check "an ERROR inside scenarios/lib: at the scenario's line, the library's in brackets (old code: qcloud.lua's line)" \
  grep -qE "lib_error.lua:8: expect_progress: state = \.\.\. is required \(in [^ ]*scenarios/lib/qcloud.lua:[0-9]+\)" "$WORK/liberr.txt"
grep -q "lib_error.lua:8:" "$WORK/liberr.txt" || cat "$WORK/liberr.txt"

run powopt power_option.lua
check "a power call's bad option: at the scenario's line (old code: 'device_power:5:')" grep -q \
  "power_option.lua:9: option 'timeout' must be > 0" "$WORK/powopt.txt"
grep -q "power_option.lua:9:" "$WORK/powopt.txt" || cat "$WORK/powopt.txt"

run devfields device_fields.lua
check "pairs(t.device), t.device.cmd expanded, no t.serial without {mcu_tty} (old code: 'table expected', '{state_dir}', a relay)" \
  [ "$(outcome "$WORK/devfields" '*')" = PASS ]
[ "$(outcome "$WORK/devfields" '*')" = PASS ] || grep -A3 -E "FAIL|ERROR" "$WORK/devfields.txt"

# a lab's own library: --lib DIR, lib = {...} in the lab file; no shadowing, no escape
LIB=$OTAHIL_SRC/$SC/lablib
runlib() { # runlib NAME ARGS...
  local name=$1; shift
  timeout -k 5 $((120 * M)) "$OTAHIL" run "$SC/lab_library.lua" --filter '*@emu-qcloud' --report "$WORK/$name" \
    "$@" > "$WORK/$name.txt" 2>&1
}
runlib lib1 --lab lab/emulated.lua --lib "$LIB"
check "--lib DIR: require finds the lab's module; its check points at the scenario (old code: exit 2)" \
  grep -q "lab_library.lua:8: labhelper.check: unknown key 'wnat' (want)" "$WORK/lib1.txt"
grep -q "lab_library.lua:8:" "$WORK/lib1.txt" || cat "$WORK/lib1.txt"
mkdir -p "$WORK/lab/mylib"
cp "$LIB/labhelper.lua" "$WORK/lab/mylib/"
{ cat lab/emulated.lua; echo 'lib = { "mylib" }'; } > "$WORK/lab/lab.lua"
runlib lib2 --lab "$WORK/lab/lab.lua"
check "lib = { \"mylib\" } in the lab file: require finds it" grep -q "lab_library.lua:8: labhelper.check" "$WORK/lib2.txt"
grep -q "lab_library.lua:8:" "$WORK/lib2.txt" || cat "$WORK/lib2.txt"
echo 'return {}' > "$WORK/lab/mylib/qcloud.lua"
runlib lib3 --lab "$WORK/lab/lab.lua"
rc=$?
check "a lab module shadowing a standard one: exit 2 (got $rc)" [ "$rc" -eq 2 ]
check "... naming both files" grep -q "mylib/qcloud.lua would shadow the standard module .*scenarios/lib/qcloud.lua" "$WORK/lib3.txt"
"$OTAHIL" list scenarios/qcloud --lib "$WORK/lab/mylib" > "$WORK/list3.txt" 2>&1
rc=$?
check "otahil list --lib with a shadowing module: exit 2 as a run (got $rc; old code: 0)" [ "$rc" -eq 2 ]
check "... naming both files" grep -q "mylib/qcloud.lua would shadow the standard module" "$WORK/list3.txt"
{ cat lab/emulated.lua; echo 'lib = { "../elsewhere" }'; } > "$WORK/lab/escape.lua"
runlib lib4 --lab "$WORK/lab/escape.lua"
rc=$?
check "lib = { \"../elsewhere\" }: exit 2 (got $rc), it leaves the lab's folder" [ "$rc" -eq 2 ]
check "... said so" grep -q "lib\[1\] '../elsewhere' leaves the lab file's folder" "$WORK/lib4.txt"


# d:allow{...}: a scenario relaxes a library rule for itself (old code: no allow, no rule names)
lab_with_args "$WORK/backwards.lua" --bug progress-backwards
runbug() { # runbug NAME SCENARIO
  timeout -k 5 $((120 * M)) "$OTAHIL" run "$SC/$2" --lab "$WORK/backwards.lua" --filter '*@emu-qcloud' \
    --report "$WORK/$1" > "$WORK/$1.txt" 2>&1
}
runbug nallow allow_without.lua
check "a rule breach FAILs naming the rule" grep -q "went backwards: .*(rule progress-backwards)" "$WORK/nallow.txt"
grep -q "(rule progress-backwards)" "$WORK/nallow.txt" || cat "$WORK/nallow.txt"
runbug allow allow_rule.lua
check "d:allow{\"progress-backwards\"}: the same device PASSes" [ "$(outcome "$WORK/allow" '*')" = PASS ]
[ "$(outcome "$WORK/allow" '*')" = PASS ] || grep -A3 -E "FAIL|ERROR" "$WORK/allow.txt"
check "... the relaxation and the breach are in the case's log" \
  grep -q 'rule.allow .*rule=progress-backwards' "$WORK"/allow/logs/authoring/*.log
run allowx allow_unknown.lua
check "allow with an unknown name: error at the scenario's line, naming the rules" \
  grep -q "allow_unknown.lua:8: allow: unknown rule 'progress-restart' (done-after-burning, percent-range, progress-backwards, resume-percent)" "$WORK/allowx.txt"
grep -q "allow_unknown.lua:8:" "$WORK/allowx.txt" || cat "$WORK/allowx.txt"
# QuecThing's shared names (issue 14: one vocabulary for the dialect libraries)
timeout -k 5 $((120 * M)) "$OTAHIL" run "$SC/quecthing_shared_names.lua" --lab lab/emulated.lua --filter '*@emu-quecthing' \
  --report "$WORK/qtnames" > "$WORK/qtnames.txt" 2>&1
check "quecthing: expect_progress / expect_fail are expect_step / expect_result (old code: nil methods)" \
  [ "$(outcome "$WORK/qtnames" '*')" = PASS ]
[ "$(outcome "$WORK/qtnames" '*')" = PASS ] || grep -A3 -E "FAIL|ERROR" "$WORK/qtnames.txt"

# every rule a library lets a scenario relax is documented in docs/verdicts.md
undocumented=""
for lib in "$OTAHIL_SRC"/scenarios/lib/*.lua; do
  for r in $(awk '/^Dev.rules = \{/{on=1; next} on && /^\}/{on=0} on' "$lib" | grep -o '^  \["[a-z-]*"\]' | tr -d ' ["]'); do
    grep -q "| $r \|$r," "$OTAHIL_SRC/docs/verdicts.md" || undocumented="$undocumented $(basename "$lib"):$r"
  done
done
check "every Dev.rules name is in docs/verdicts.md (missing:${undocumented:- none})" [ -z "$undocumented" ]
finish
