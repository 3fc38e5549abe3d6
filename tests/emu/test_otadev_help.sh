#!/usr/bin/env bash
# otadev --help lists every --bug switch the code knows (each BUG_* of
# drivers/emu/bugs.h), with the dialects it applies to and what it breaks, and
# each name listed is one otadev accepts.
set -u
OTADEV=$1 SRC=$2
fails=0
help=$("$OTADEV" --help) || { echo "not ok - otadev --help exits 0"; exit 1; }
bits=$(grep -oE '^#define BUG_[A-Z0-9_]+ +\(1u << [0-9]+\)' "$SRC/drivers/emu/bugs.h" | grep -oE '[0-9]+\)$' | tr -d ')')
nbits=$(echo "$bits" | wc -w)
lines=$(echo "$help" | grep -E '^  [a-z0-9-]+ +(all|[a-z]+(,[a-z]+)*) +[^ ].{10,}$')
nlines=$(echo "$lines" | grep -c .)
if [ "$nbits" -ge 27 ] && [ "$nlines" -eq "$nbits" ]; then echo "ok - $nbits BUG_* bits, $nlines --help lines"
else echo "not ok - $nbits BUG_* bits in bugs.h, $nlines bug lines in --help"; fails=$((fails + 1)); fi
# every name in --help is accepted, and names a distinct switch
names=$(echo "$lines" | awk '{print $1}')
dups=$(echo "$names" | sort | uniq -d)
[ -z "$dups" ] && echo "ok - names are distinct" || { echo "not ok - duplicate names: $dups"; fails=$((fails + 1)); }
for n in $names; do
  out=$("$OTADEV" --bug "$n" 2>&1)
  if echo "$out" | grep -q "unknown --bug"; then echo "not ok - --bug $n is refused"; fails=$((fails + 1)); fi
done
# every dialect named exists
known=$(echo "$help" | sed -n 's/^dialects: //p' | tr -d ' ' | tr ',' '\n')
for d in $(echo "$lines" | awk '{print $2}' | tr ',' '\n' | sort -u); do
  [ "$d" = all ] || echo "$known" | grep -qx "$d" || { echo "not ok - unknown dialect $d"; fails=$((fails + 1)); }
done
# and every BUG_* used by the emulator's code is defined in bugs.h (so counted above)
for b in $(grep -ohE '\bBUG_[A-Z0-9_]+' "$SRC"/drivers/emu/*.c | sort -u); do
  grep -qE "^#define $b " "$SRC/drivers/emu/bugs.h" || { echo "not ok - $b used but not in bugs.h"; fails=$((fails + 1)); }
done
echo "$((fails == 0 ? 1 : 0)) passed, $fails failed"
[ "$fails" -eq 0 ]
