# Shared helpers of the end-to-end tests (sourced). Every test runs otahil for
# real: mosquitto, the firmware server, otadev processes on pseudo-terminals.
set -u
: "${OTAHIL:?OTAHIL must point at the otahil binary}"
: "${OTAHIL_SRC:?OTAHIL_SRC must point at the source tree}"
. "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh" # free_port
cd "$OTAHIL_SRC"
WORK=$(mktemp -d /tmp/otahil-e2e-XXXXXX)
FAILS=0
PASSES=0
cleanup() {
  # nothing of ours may outlive the test
  pkill -KILL -f "otadev.*$WORK" 2>/dev/null
  if [ -n "${OTAHIL_E2E_KEEP:-}" ]; then echo "# kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

ok() { PASSES=$((PASSES + 1)); echo "ok - $*"; }
not_ok() { FAILS=$((FAILS + 1)); echo "not ok - $*"; }
check() { # check "description" command...
  local what=$1; shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# A copy of lab/emulated.lua whose otadev gets extra arguments (e.g. --bug no-md5).
lab_with_args() { # lab_with_args OUT ARGS...
  local out=$1; shift
  local extra=""
  for a in "$@"; do extra="$extra, \"$a\""; done
  sed "s|\"--download-timeout\", \"{download_timeout}\" }|\"--download-timeout\", \"{download_timeout}\"$extra }|" \
    lab/emulated.lua > "$out"
  grep -q -- "$1" "$out"
}

# outcome REPORT_DIR CASE_ID_GLOB -> prints the outcomes of matching cases
outcome() {
  python3 - "$1/report.json" "$2" <<'PY'
import fnmatch, json, sys
doc = json.load(open(sys.argv[1]))
# the run's own entry (otahil/run: not started, not finished, interrupted) is not a case
print(" ".join(s["outcome"] for s in doc["scenarios"] if s["id"] != "otahil/run" and fnmatch.fnmatch(s["id"], sys.argv[2])))
PY
}

finish() {
  echo "$PASSES passed, $FAILS failed"
  [ "$FAILS" -eq 0 ]
}
