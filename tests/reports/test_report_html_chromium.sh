#!/usr/bin/env bash
# report.html in a real browser (Debian's chromium, headless): a cut-and-resume
# case, opened by its #sN link; the DOM the page's script builds is asserted on
# (one download series per HTTP connection, starting at its Range; fault, power,
# progress and state markers; the filters, the search box, the timeline), and a
# screenshot is taken.
source "$(dirname "$0")/../e2e/lib.sh"
export OTAHIL_TIMEOUT_MULTIPLIER=${OTAHIL_TIMEOUT_MULTIPLIER:-3}
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
  not_ok "chromium is installed (scripts/install-deps installs it)"
  finish
  exit 1
fi
browse() { # browse URL OUT [extra chromium args]: the DOM after the script ran
  local url=$1 out=$2; shift 2
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --user-data-dir="$WORK/chrome" \
    --virtual-time-budget=10000 "$@" --dump-dom "$url" > "$out" 2>> "$WORK/chromium.err"
}

"$OTAHIL" run scenarios/qcloud --filter 'qcloud/03_resume_after_cut*' --lab lab/emulated.lua \
  --report "$WORK/r" > "$WORK/run.txt" 2>&1
check "the cut-and-resume case ran and passed" grep -q "1 passed" "$WORK/run.txt"
check "report.html is well-formed XML" xmllint --noout "$WORK/r/report.html"
check "headless chromium renders the case" browse "file://$WORK/r/report.html#s0" "$WORK/dom.html"
EV=$(ls "$WORK"/r/logs/qcloud/03_resume_after_cut@*.events.json)
LINK=$(grep -o 'log <a href="logs/[^"]*"' "$WORK/r/report.html" | head -1 | sed 's/.*href="//; s/"$//')
check "the case's log link leads to its file ($LINK)" test -s "$WORK/r/$LINK"

/usr/bin/python3 - "$WORK/dom.html" "$EV" > "$WORK/dom-check.txt" 2>&1 <<'PY'
import json, re, sys
from html.parser import HTMLParser
events = json.load(open(sys.argv[2]))
ranges = {}
for e in events:
    if e.get("kind") == "http.request" and "conn" in e:
        m = re.match(r"bytes=(\d+)-", e.get("range", ""))
        ranges[e["conn"]] = int(m.group(1)) if m else 0
els = []
class P(HTMLParser):
    def handle_starttag(self, tag, attrs):
        els.append((tag, dict(attrs)))
P().feed(open(sys.argv[1]).read())
def cls(tag, c): return [a for t, a in els if t == tag and c in (a.get("class") or "").split()]
fails = []
def need(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok: fails.append(what)
series = cls("polyline", "conn-series")
need(len(ranges) == 2 and ranges[2] > 0, "the run cut one connection and resumed on a second with a Range: %r" % ranges)
need(len(series) == len(ranges), "one series per HTTP connection (%d series, %d connections)" % (len(series), len(ranges)))
need({int(a["data-conn"]): int(a["data-range"]) for a in series} == ranges, "each series starts at its Range start")
pts = [[tuple(map(float, p.split(","))) for p in a["points"].split()] for a in series]
need(all(len(p) >= 3 for p in pts), "each series has points")
need(all(p[0][1] >= p[-1][1] for p in pts), "each series rises (file position grows)")
need(pts[1][0][0] > pts[0][-1][0] - 0.5, "the second connection starts after the first ends")
need(len(cls("g", "fault")) >= 1, "a fault marker (the cut)")
need(len(cls("g", "power")) >= 2, "power on and off markers")
need(len(cls("circle", "progress-mark")) >= 3, "the device's progress reports")
states = [t for t, a in els if t == "g" and "state-mark" in (a.get("class") or "")]
need(len(states) >= 3, "the device's states (downloading, burning, done)")
ev = cls("div", "ev")
need(len(ev) == 1 and ev[0].get("data-rendered") == str(len(events)), "the event table holds every event")
need(any(t == "input" and a.get("id") == "q" for t, a in els), "a search box")
need(len(cls("input", "of")) >= 1, "outcome filters")
need(len(cls("rect", "bar")) == 1, "the timeline has the case's bar")
html = [a for t, a in els if t == "html"][0]
need(int(html.get("data-ready-ms", "99999")) < 3000, "ready in under 3 s, loaded machine included (%s ms)" % html.get("data-ready-ms"))
sys.exit(1 if fails else 0)
PY
rc=$?
cat "$WORK/dom-check.txt"
check "the rendered DOM has the chart, markers, filters and timeline" [ $rc -eq 0 ]
# the search box, through a #q= link: no match hides the case, a match shows it
browse "file://$WORK/r/report.html#q=no-such-case" "$WORK/q0.html"
check "a search that matches nothing hides the case" grep -q '<span id="shown">0 shown</span>' "$WORK/q0.html"
check "... its section is hidden" grep -q '<section id="s0"[^>]*style="display: none;"' "$WORK/q0.html"
browse "file://$WORK/r/report.html#q=RESUME_after" "$WORK/q1.html"
check "a search (any case) that matches shows it" grep -q '<span id="shown">1 shown</span>' "$WORK/q1.html"
browse "file://$WORK/r/report.html#s0" /dev/null --window-size=1280,1400 --screenshot="$WORK/shot.png"
check "a screenshot of the chart" [ "$(stat -c %s "$WORK/shot.png" 2>/dev/null || echo 0)" -gt 20000 ]
finish
