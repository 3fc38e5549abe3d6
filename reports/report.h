/* report: the files a run leaves behind, written from the harness's cJSON
 * "run document":
 *
 *   { "tool":"otahil", "version":"0.1.0", "seed":42, "started":"2026-...Z",
 *     "duration":12.3, "lab":"lab/emulated.lua",
 *     "summary":{"total":3,"pass":2,"fail":1,"error":0,"timeout":0,"skip":0},
 *     "complete":true,   (false until every case is in: see "pending")
 *     "scenarios":[ { "id":"qcloud/01_version@emu1", "name":"...", "file":"...",
 *                     "suite":"qcloud", "device":"emu1",
 *                     "outcome":"PASS|FAIL|ERROR|TIMEOUT|SKIP", "message":"...",
 *                     "duration":1.23, "log":"out/logs/...log",
 *                     "started":"2026-12-07T08:01:02.345Z", (wall clock, UTC, ms; a case that ran)
 *                     "seed":42,       (optional: the case's own, when it differs from the run's)
 *                     "attempts":[ {"outcome":"ERROR","message":"...","log":"...",
 *                                   "started":"...","duration":1.2}, ... ],
 *                                 (optional, with --retries: the EARLIER attempts, oldest
 *                                 first; the case's own fields are its final attempt. A
 *                                 final PASS with attempts is a flaky pass)
 *                     "pending":true,  (only on a case not finished yet: outcome ERROR)
 *                     "events_file":"out/logs/...events.json", (instead of "events": the
 *                                 writers read a case's events from it, one case at a time)
 *                     "events":[ {"t":0.001, "kind":"mqtt.out", "topic":"...",
 *                                 "payload":"...", ...any other fields}, ... ] } ] }
 *
 * Every field but "scenarios" is optional; a missing string prints as empty, a
 * missing number as 0. All strings are treated as untrusted (they carry device
 * output): each writer escapes for its format, and text that is not valid UTF-8
 * is repaired (U+FFFD) or shown as \xNN, never copied raw.
 *
 * Every writer builds the file in memory and replaces `path` atomically (see
 * atomic_file.h): on failure the previous file stays whole. All return 0, or -1
 * with `err` naming the file or the part of the document that is wrong. The
 * writers never keep or modify the document.
 */
#ifndef OTAHIL_REPORT_H
#define OTAHIL_REPORT_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* The run document as JSON (pretty printed), with invalid UTF-8 in strings and
 * keys replaced by U+FFFD so that any JSON parser reads it back. */
int report_write_json(const cJSON *run, const char *path, char *err, size_t errlen);

/* JUnit XML: one <testsuite> per "suite" (in order of first appearance; a missing
 * suite is "otahil"), one <testcase classname=suite name=id time=duration
 * file=file timestamp=started> per scenario. FAIL -> <failure type="FAIL">,
 * ERROR and TIMEOUT -> <error type=...>, SKIP -> <skipped/>, each with message=
 * (cut at 4 KiB); an unknown outcome is an ERROR. Each testcase has
 * <properties>: seed (the case's "seed", else the run's), device, location
 * (the first "x.lua:N:" of the message of a case that did not pass; also
 * line=N on the testcase when x.lua is the scenario's file), log, console,
 * events. Each earlier attempt (Surefire's reruns) is a <flakyError> (a FAIL:
 * <flakyFailure>) when the case passed in the end (it counts as passing), else
 * a <rerunError> (<rerunFailure>) after its verdict; each has message= type=
 * and <stackTrace> (the message) and <system-out> (duration, start, log). A testcase that did not pass holds its text log in <system-out>
 * (report_render_text_log; past 32 KiB only its head and tail, with the log's
 * path); one that passed or was skipped only the paths of its log and console. */
int report_write_junit(const cJSON *run, const char *path, char *err, size_t errlen);

/* A readable log of one scenario: a header, then one line per event:
 *   "  12.345 mqtt.in   $ota/report/P/D {"type":...}"
 * i.e. time, kind, topic, other fields as key=value, payload. Line breaks and
 * other control bytes inside values are shown as \n, \xNN, so one event is
 * always one line. */
int report_write_text_log(const cJSON *scenario, const char *path, char *err, size_t errlen);

/* The same text, returned as a malloc'd NUL-terminated string the caller frees
 * (NULL if out of memory). */
char *report_render_text_log(const cJSON *scenario);

/* One event as its line of that log ("   1.234 kind      topic k=v ...\n"),
 * malloc'd (NULL if out of memory): the live log appends them as they come. */
char *report_render_event_line(const cJSON *ev);

/* One self-contained HTML page (inline style sheet, script and SVG; nothing
 * fetched): summary counts (a PASS after earlier attempts counts as flaky), a
 * run timeline (one row per device, one bar per case and per earlier attempt,
 * from "started" and "duration", coloured by outcome), outcome filters and a
 * search box, the table of cases, then per case a section with its message,
 * attempts and links to its files. A case's events are embedded deflated
 * (zlib) and base64'd; the page's script unpacks them when the case is opened
 * (its #sN link, a click, or scrolling to a case that did not pass) and draws
 * the event table, the console transcript and the download chart: one series
 * per HTTP connection ("http.request" with "conn" and "range"; "http.progress"
 * "bytes" of the stream; "fault" "body_offset"; "net.close"), file position
 * against time from its Range start, with markers for "fault" actions and
 * "power" states, and the device's progress reports and states (mqtt.in
 * payloads with percent/progress/step/state). The page is also well-formed
 * XML (the script sits in a CDATA section), so XML tools can check it. */
int report_write_html(const cJSON *run, const char *path, char *err, size_t errlen);

#endif
