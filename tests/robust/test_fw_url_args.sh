#!/usr/bin/env bash
# t.fw:url{expires_in = } with NaN, +-inf or +-1e300 became an undefined
# double-to-int64 conversion (UBSan stops otahil) or a URL that never expires;
# now a Lua error at the scenario's line, while a negative expires_in still
# makes an already expired URL.
. "$(dirname "$0")/../e2e/lib.sh"
timeout 60 "$OTAHIL" run tests/robust/scenarios/fw_url_args.lua --lab lab/emulated.lua --report "$WORK/u" \
  > "$WORK/u.txt" 2>&1
rc=$?
sed 's/^/# /' "$WORK/u.txt" | head -20
check "fw:url bad expires_in: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "fw:url bad expires_in: ERROR (every check before it passed)" [ "$(outcome "$WORK/u" '*')" = "ERROR" ]
check "fw:url bad expires_in: located at the scenario's line" \
  grep -q "fw_url_args.lua:31: fw:url: expires_in must be a number of seconds within +-10 years" "$WORK/u.txt"
finish
