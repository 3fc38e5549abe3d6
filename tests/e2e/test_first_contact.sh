#!/bin/bash
# First contact (issue 16): scripts/install-deps says in a few lines what it
# installs and where apt's output went, not hundreds of apt lines; a failing
# apt shows its last lines and exits non-zero. apt-get, dpkg-query and sudo are
# stand-ins on PATH (a test may not install packages): they print what the
# real ones would, 400 lines of it.
. "$(dirname "$0")/lib.sh"
FAKE=$WORK/bin
mkdir -p "$FAKE"
cat > "$FAKE/dpkg-query" <<'SH'
#!/bin/sh
case "$*" in *cmake*|*chromium*) exit 1 ;; esac # two packages "missing"
echo "install ok installed"
SH
cat > "$FAKE/apt-get" <<'SH'
#!/bin/sh
i=0
while [ $i -lt 200 ]; do echo "Get:$i http://deb.debian.org/debian trixie/main some-package"; i=$((i + 1)); done
[ -n "${FAKE_APT_FAIL:-}" ] && [ "$1" = install ] && { echo "E: Unable to locate package chromium" >&2; exit 100; }
exit 0
SH
printf '#!/bin/sh\nexec "$@"\n' > "$FAKE/sudo"
chmod +x "$FAKE"/*

PATH=$FAKE:$PATH INSTALL_LOG=$WORK/install.log scripts/install-deps > "$WORK/ok.txt" 2>&1
rc=$?
check "install-deps with two packages missing: exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "... at most 4 lines on the terminal (got $(wc -l < "$WORK/ok.txt"); old code: 400)" [ "$(wc -l < "$WORK/ok.txt")" -le 4 ]
check "... naming the packages" grep -q "installing 2 packages: cmake chromium" "$WORK/ok.txt"
check "... and the log file" grep -q "apt's output in $WORK/install.log" "$WORK/ok.txt"
check "... which holds apt's output" [ "$(grep -c '^Get:' "$WORK/install.log")" -eq 400 ]
[ "$(wc -l < "$WORK/ok.txt")" -le 4 ] || head -5 "$WORK/ok.txt"

PATH=$FAKE:$PATH INSTALL_LOG=$WORK/fail.log FAKE_APT_FAIL=1 scripts/install-deps > "$WORK/fail.txt" 2>&1
rc=$?
check "apt-get failing: install-deps exits non-zero (got $rc)" [ "$rc" -ne 0 ]
check "... and shows apt's error from the log" grep -q "E: Unable to locate package chromium" "$WORK/fail.txt"
check "... in at most 20 lines (got $(wc -l < "$WORK/fail.txt"))" [ "$(wc -l < "$WORK/fail.txt")" -le 20 ]
finish
