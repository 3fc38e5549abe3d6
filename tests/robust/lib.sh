# Shared by the robustness end-to-end tests (sourced after tests/e2e/lib.sh).
# marked MARK: pids of the live processes (zombies left out) whose environment
# holds OTAHIL_TEST_MARK=MARK (what the test devices export to all they start).
marked() {
  local f p
  for f in $(grep -lsxzF "OTAHIL_TEST_MARK=$1" /proc/[0-9]*/environ); do
    p=${f#/proc/}
    p=${p%/environ}
    awk '{ sub(/.*\) /, ""); exit ($1 == "Z") }' "/proc/$p/stat" 2>/dev/null && echo "$p"
  done
}
# marked_kill MARK: SIGKILLs them (what an old otahil left behind)
marked_kill() {
  local p
  for p in $(marked "$1"); do kill -KILL "$p" 2>/dev/null; done
}
