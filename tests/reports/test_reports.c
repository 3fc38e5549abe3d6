/* Tests of reports/: hostile strings in, well-formed files out, atomic writes.
 * Well-formedness is judged by real parsers: python3's xml.etree and json
 * (strict UTF-8), and xmllint when it is installed. */
#include "atomic_file.h"
#include "report.h"
#include "strbuf.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* Everything a device might print: markup, quotes, control bytes, an ANSI
 * escape, invalid UTF-8 (stray bytes, overlong, truncated, a surrogate), a
 * non-character XML forbids, a valid 4-byte character, and line breaks. */
#define HOSTILE                                                                            \
  "lt< amp& quot\" apos' gt> cdata]]> <script>alert(1)</script> ctl\x01\x02\x1b[31m "      \
  "bad\xff\xfe over\xc0\xaf trunc\xe2\x82 surr\xed\xa0\x80 nonchar\xef\xbf\xbe "           \
  "emoji\xf0\x9f\x98\x80 tab\t nl\n cr\r end"
/* The same without invalid UTF-8: must survive JSON byte for byte. */
#define HOSTILE_VALID                                                                      \
  "lt< amp& quot\" apos' gt> cdata]]> <script>alert(1)</script> ctl\x01\x02\x1b[31m "      \
  "nonchar\xef\xbf\xbe emoji\xf0\x9f\x98\x80 tab\t nl\n cr\r end"

static char dir[64];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/reports-test-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(p);
}

static void teardown(void) {
  chmod(dir, 0755);
  nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void in_dir(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

static cJSON *event(double t, const char *kind, const char *topic, const char *payload) {
  cJSON *e = cJSON_CreateObject();
  cJSON_AddNumberToObject(e, "t", t);
  cJSON_AddStringToObject(e, "kind", kind);
  if (topic) cJSON_AddStringToObject(e, "topic", topic);
  if (payload) cJSON_AddStringToObject(e, "payload", payload);
  return e;
}

static cJSON *scenario(const char *id, const char *suite, const char *outcome, const char *msg,
                       double duration, const char *hostile) {
  cJSON *s = cJSON_CreateObject();
  cJSON_AddStringToObject(s, "id", id);
  cJSON_AddStringToObject(s, "name", hostile);
  cJSON_AddStringToObject(s, "file", "scenarios/qcloud/01_version.lua");
  cJSON_AddStringToObject(s, "suite", suite);
  cJSON_AddStringToObject(s, "device", "emu1");
  cJSON_AddStringToObject(s, "outcome", outcome);
  cJSON_AddStringToObject(s, "message", msg);
  cJSON_AddNumberToObject(s, "duration", duration);
  cJSON_AddStringToObject(s, "log", "out/logs/x.log");
  cJSON_AddStringToObject(s, "console", "/abs/out/logs/x\"<.console");
  cJSON *evs = cJSON_AddArrayToObject(s, "events");
  cJSON_AddItemToArray(evs, event(0.001, "mqtt.out", "$ota/update/P/D", "{\"type\":\"update_firmware\"}"));
  cJSON *h = event(0.5, "http.body", NULL, NULL);
  cJSON_AddNumberToObject(h, "bytes", 65536);
  cJSON_AddNumberToObject(h, "offset", 0);
  cJSON_AddItemToArray(evs, h);
  cJSON *p = event(0.7, "mqtt.in", "$ota/report/P/D", "{\"type\":\"report_progress\"}");
  cJSON_AddNumberToObject(p, "percent", 40);
  cJSON_AddItemToArray(evs, p);
  cJSON_AddItemToArray(evs, event(0.9, "uart", NULL, hostile));
  cJSON *o = event(1.0, "mqtt.in", hostile, NULL);
  cJSON_AddItemToObject(o, "payload", cJSON_CreateString(hostile));
  cJSON_AddItemToObject(o, hostile, cJSON_CreateString("key is hostile"));
  cJSON_AddItemToArray(evs, o);
  cJSON_AddItemToArray(evs, cJSON_CreateNumber(7)); /* not an object: shown, not dropped */
  return s;
}

/* qcloud: PASS, FAIL, SKIP, WEIRD; ali<yun>: ERROR, TIMEOUT. */
static cJSON *make_run(const char *hostile) {
  cJSON *run = cJSON_CreateObject();
  cJSON_AddStringToObject(run, "tool", "otahil");
  cJSON_AddStringToObject(run, "version", "0.1.0");
  cJSON_AddNumberToObject(run, "seed", 42);
  cJSON_AddStringToObject(run, "started", "2026-11-23T12:00:00Z");
  cJSON_AddNumberToObject(run, "duration", 12.3);
  cJSON_AddStringToObject(run, "lab", hostile);
  cJSON *sum = cJSON_AddObjectToObject(run, "summary");
  cJSON_AddNumberToObject(sum, "total", 6);
  cJSON *scs = cJSON_AddArrayToObject(run, "scenarios");
  cJSON_AddItemToArray(scs, scenario("qcloud/01_version@emu1", "qcloud", "PASS", "", 1.23, hostile));
  cJSON_AddItemToArray(scs, scenario("qcloud/02<&\"@emu1", "qcloud", "FAIL", hostile, 2, hostile));
  cJSON_AddItemToArray(scs, scenario("x/err@emu1", "ali<yun>", "ERROR", hostile, 0.5, hostile));
  cJSON_AddItemToArray(scs, scenario("qcloud/03_skip@emu1", "qcloud", "SKIP", "no device", 0, hostile));
  cJSON_AddItemToArray(scs, scenario("x/slow@emu1", "ali<yun>", "TIMEOUT", "deadline 30 s", 30, hostile));
  cJSON_AddItemToArray(scs, scenario("qcloud/04_weird@emu1", "qcloud", "WEIRD", "hm", 0, hostile));
  return run;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  size_t r;
  while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += r;
    if (cap - n - 1 == 0) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  fclose(f);
  if (buf) buf[n] = '\0';
  if (len) *len = n;
  return buf;
}

/* Runs a check script with `python` on `file`; returns its exit status. */
static int run_python_with(const char *python, const char *script, const char *file) {
  char sp[128], cmd[512];
  in_dir(sp, sizeof sp, "check.py");
  FILE *f = fopen(sp, "w");
  ck_assert_ptr_nonnull(f);
  fputs(script, f);
  fclose(f);
  snprintf(cmd, sizeof cmd, "%s '%s' '%s'", python, sp, file);
  int rc = system(cmd);
  unlink(sp);
  return rc;
}

static int run_python(const char *script, const char *file) { return run_python_with("python3", script, file); }

static int count_tmp_files(void) {
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    if (strstr(de->d_name, ".tmp-")) n++;
  closedir(d);
  return n;
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(utf8_and_escapers) {
  char *s = utf8_sanitize("a\xff" "b\xc0\xaf" "c\xf0\x9f\x98\x80" "d\xe2\x82");
  ck_assert_str_eq(s, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD" "c\xf0\x9f\x98\x80" "d\xEF\xBF\xBD\xEF\xBF\xBD");
  free(s);
  strbuf b;
  sb_init(&b);
  sb_xml(&b, "<a href=\"x\">&'\x01\t\xef\xbf\xbe");
  ck_assert_str_eq(b.p, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;\xEF\xBF\xBD&#9;\xEF\xBF\xBD");
  sb_free(&b);
  sb_line(&b, "a\nb\x1b[0m\xff\tz");
  ck_assert_str_eq(b.p, "a\\nb\\x1B[0m\\xFF\\tz");
  sb_free(&b);
}
END_TEST

static const char JUNIT_CHECK[] =
    "import sys, xml.etree.ElementTree as ET\n"
    "r = ET.parse(sys.argv[1]).getroot()\n"
    "def need(c, what):\n"
    "    if not c:\n"
    "        print('junit check failed:', what); sys.exit(1)\n"
    "need(r.tag == 'testsuites', 'root')\n"
    "need((r.get('tests'), r.get('failures'), r.get('errors'), r.get('skipped')) == ('6','1','3','1'), r.attrib)\n"
    "suites = r.findall('testsuite')\n"
    "need([s.get('name') for s in suites] == ['qcloud', 'ali<yun>'], [s.get('name') for s in suites])\n"
    "need((suites[0].get('tests'), suites[0].get('failures'), suites[0].get('errors'), suites[0].get('skipped')) == ('4','1','1','1'), suites[0].attrib)\n"
    "need((suites[1].get('tests'), suites[1].get('errors')) == ('2','2'), suites[1].attrib)\n"
    "props = {p.get('name'): p.get('value') for p in suites[0].find('properties')}\n"
    "need(props.get('seed') == '42', props)\n"
    "need('\\ufffd' in props.get('lab') and '<script>' in props.get('lab'), props)\n"
    "cases = {c.get('name'): c for s in suites for c in s.findall('testcase')}\n"
    "need(len(cases) == 6, list(cases))\n"
    "for s in suites:\n"
    "    for c in s.findall('testcase'): need(c.get('classname') == s.get('name'), c.attrib)\n"
    "p = cases['qcloud/01_version@emu1']\n"
    "need(p.get('time') == '1.230', p.attrib)\n"
    "need(p.find('failure') is None and p.find('error') is None and p.find('skipped') is None, 'pass has a verdict')\n"
    "out = p.find('system-out').text\n"
    "need('mqtt.out' not in out and 'log: out/logs/x.log' in out, out)\n"
    "fo = cases['qcloud/02<&\"@emu1'].find('system-out').text\n"
    "need('mqtt.out' in fo and '$ota/update/P/D' in fo, fo)\n"
    "f = cases['qcloud/02<&\"@emu1'].find('failure')\n"
    "need(f is not None and f.get('type') == 'FAIL', 'failure')\n"
    "m = f.get('message')\n"
    "need('lt< amp& quot\" apos\\' gt> cdata]]> <script>' in m, m)\n"
    "need('\\ufffd' in m and 'emoji\\U0001F600' in m, m)\n"
    "need('tab\\t nl\\n cr\\r end' in m, repr(m))\n"
    "need(not any(ord(ch) < 32 and ch not in '\\t\\n\\r' for ch in m), repr(m))\n"
    "need(f.text == m, 'failure text')\n"
    "e = cases['x/err@emu1'].find('error')\n"
    "need(e is not None and e.get('type') == 'ERROR', 'error')\n"
    "t = cases['x/slow@emu1'].find('error')\n"
    "need(t is not None and t.get('type') == 'TIMEOUT' and t.get('message') == 'deadline 30 s', 'timeout')\n"
    "k = cases['qcloud/03_skip@emu1'].find('skipped')\n"
    "need(k is not None and k.get('message') == 'no device', 'skip')\n"
    "w = cases['qcloud/04_weird@emu1'].find('error')\n"
    "need(w is not None and w.get('message').startswith(\"unknown outcome 'WEIRD'\"), 'weird')\n"
    "log = cases['qcloud/02<&\"@emu1'].find('system-out').text\n"
    "lines = log.split('\\n')\n"
    "need(len([l for l in lines if l]) == 3 + 6, lines)\n"
    "sys.exit(0)\n";

START_TEST(junit_hostile_is_well_formed) {
  cJSON *run = make_run(HOSTILE);
  char path[128], err[512] = "";
  in_dir(path, sizeof path, "junit.xml");
  ck_assert_msg(report_write_junit(run, path, err, sizeof err) == 0, "%s", err);
  cJSON_Delete(run);
  ck_assert_int_eq(run_python(JUNIT_CHECK, path), 0);
  if (access("/usr/bin/xmllint", X_OK) == 0) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "/usr/bin/xmllint --noout '%s'", path);
    ck_assert_int_eq(system(cmd), 0);
  }
  size_t len;
  char *raw = slurp(path, &len);
  ck_assert_ptr_nonnull(raw);
  ck_assert_ptr_null(strstr(raw, "<script"));
  ck_assert_ptr_null(memchr(raw, '\x01', len));
  ck_assert_ptr_null(memchr(raw, '\x1b', len));
  ck_assert_ptr_null(strstr(raw, "\xff"));
  free(raw);
  ck_assert_int_eq(count_tmp_files(), 0);
}
END_TEST

static const char JSON_CHECK[] =
    "import sys, json\n"
    "d = json.loads(open(sys.argv[1], 'rb').read().decode('utf-8', 'strict'))\n"
    "assert len(d['scenarios']) == 6, d\n"
    "m = d['scenarios'][1]['message']\n"
    "assert '\\ufffd' in m and 'emoji\\U0001F600' in m and 'nl\\n cr\\r' in m and '\\x01' in m, repr(m)\n"
    "assert d['seed'] == 42 and d['duration'] == 12.3\n"
    "sys.exit(0)\n";

START_TEST(json_round_trips) {
  char path[128], err[512] = "";
  in_dir(path, sizeof path, "run.json");
  /* Valid UTF-8, however hostile, comes back exactly. */
  cJSON *run = make_run(HOSTILE_VALID);
  ck_assert_msg(report_write_json(run, path, err, sizeof err) == 0, "%s", err);
  char *text = slurp(path, NULL);
  ck_assert_ptr_nonnull(text);
  cJSON *back = cJSON_Parse(text);
  free(text);
  ck_assert_ptr_nonnull(back);
  ck_assert(cJSON_Compare(run, back, 1));
  cJSON_Delete(back);
  cJSON_Delete(run);

  /* Invalid UTF-8 is repaired, in values and keys, and strict parsers read it. */
  run = make_run(HOSTILE);
  ck_assert_msg(report_write_json(run, path, err, sizeof err) == 0, "%s", err);
  char *fixed = utf8_sanitize(HOSTILE);
  cJSON *want = make_run(fixed);
  free(fixed);
  text = slurp(path, NULL);
  back = cJSON_Parse(text);
  free(text);
  ck_assert_ptr_nonnull(back);
  ck_assert(cJSON_Compare(want, back, 1));
  ck_assert(!cJSON_Compare(run, back, 1));
  cJSON_Delete(back);
  cJSON_Delete(want);
  cJSON_Delete(run);
  ck_assert_int_eq(run_python(JSON_CHECK, path), 0);
}
END_TEST

START_TEST(text_log_one_line_per_event) {
  cJSON *run = make_run(HOSTILE);
  cJSON *sc = cJSON_GetArrayItem(cJSON_GetObjectItem(run, "scenarios"), 1);
  cJSON *evs = cJSON_GetObjectItem(sc, "events");
  cJSON_AddItemToArray(evs, event(12.345, "mqtt.in", "$ota/report/P/D", "{\"type\":\"report_version\"}"));
  char path[128], err[512] = "";
  in_dir(path, sizeof path, "s.log");
  ck_assert_msg(report_write_text_log(sc, path, err, sizeof err) == 0, "%s", err);
  size_t len;
  char *raw = slurp(path, &len);
  ck_assert_ptr_nonnull(raw);
  int lines = 0;
  for (size_t i = 0; i < len; i++) lines += raw[i] == '\n';
  ck_assert_int_eq(lines, 3 + 7); /* header + one per event */
  ck_assert_ptr_nonnull(strstr(raw, "\n  12.345 mqtt.in   $ota/report/P/D {\"type\":\"report_version\"}\n"));
  ck_assert_ptr_nonnull(strstr(raw, "\n   0.500 http.body bytes=65536 offset=0\n"));
  ck_assert_ptr_nonnull(strstr(raw, "# outcome FAIL after 2.000 s: lt< amp&"));
  ck_assert_ptr_nonnull(strstr(raw, "ctl\\x01\\x02\\x1B[31m bad\\xFF\\xFE"));
  ck_assert_ptr_nonnull(strstr(raw, "tab\\t nl\\n cr\\r end"));
  ck_assert_ptr_nonnull(strstr(raw, "\n   0.000 ?         7\n"));
  ck_assert_ptr_null(memchr(raw, '\x1b', len));
  char *mem = report_render_text_log(sc);
  ck_assert_str_eq(mem, raw);
  free(mem);
  free(raw);
  cJSON_Delete(run);
  /* Not a scenario object: an error, and no file. */
  in_dir(path, sizeof path, "none.log");
  ck_assert_int_eq(report_write_text_log(NULL, path, err, sizeof err), -1);
  ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

START_TEST(atomic_failure_keeps_old_file) {
  char path[128], err[512] = "";
  in_dir(path, sizeof path, "run.json");
  cJSON *small = cJSON_Parse("{\"scenarios\":[]}");
  ck_assert_int_eq(report_write_json(small, path, err, sizeof err), 0);
  cJSON_Delete(small);
  size_t oldlen;
  char *old = slurp(path, &oldlen);
  ck_assert_ptr_nonnull(old);

  /* A file size limit makes the write of the big report fail half-way (as a
   * full disk would); EFBIG instead of SIGXFSZ. The test runs in its own
   * child process (Check's fork mode), so the limit dies with it. */
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit rl;
  ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
  struct rlimit lim = {.rlim_cur = 4096, .rlim_max = rl.rlim_max};
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
  cJSON *run = make_run(HOSTILE);
  ck_assert_int_eq(report_write_json(run, path, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, path));
  ck_assert_ptr_nonnull(strstr(err, "write failed"));
  ck_assert_int_eq(report_write_html(run, path, err, sizeof err), -1);
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
  size_t nowlen;
  char *now = slurp(path, &nowlen);
  ck_assert_uint_eq(nowlen, oldlen);
  ck_assert_mem_eq(now, old, oldlen);
  free(now);
  ck_assert_int_eq(count_tmp_files(), 0);

  /* A read-only directory (meaningless for root, who may write anyway). */
  if (geteuid() != 0) {
    ck_assert_int_eq(chmod(dir, 0555), 0);
    ck_assert_int_eq(report_write_junit(run, path, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "temporary"));
    ck_assert_int_eq(chmod(dir, 0755), 0);
    now = slurp(path, &nowlen);
    ck_assert_uint_eq(nowlen, oldlen);
    ck_assert_mem_eq(now, old, oldlen);
    free(now);
  }

  /* A directory that does not exist. */
  char missing[160];
  in_dir(missing, sizeof missing, "no/such/dir/junit.xml");
  ck_assert_int_eq(report_write_junit(run, missing, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, missing));

  /* Success replaces the file whole. */
  ck_assert_int_eq(report_write_json(run, path, err, sizeof err), 0);
  now = slurp(path, &nowlen);
  ck_assert_uint_gt(nowlen, oldlen);
  free(now);
  free(old);
  cJSON_Delete(run);
  ck_assert_int_eq(count_tmp_files(), 0);
}
END_TEST

START_TEST(bad_documents_are_errors) {
  char path[128], err[512] = "";
  in_dir(path, sizeof path, "x.xml");
  cJSON *arr = cJSON_CreateArray();
  ck_assert_int_eq(report_write_junit(arr, path, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "not an object"));
  cJSON_Delete(arr);
  cJSON *noscen = cJSON_Parse("{\"tool\":\"otahil\"}");
  ck_assert_int_eq(report_write_html(noscen, path, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "\"scenarios\" is missing"));
  ck_assert_int_eq(report_write_json(noscen, path, err, sizeof err), -1);
  cJSON_Delete(noscen);
  ck_assert_int_ne(access(path, F_OK), 0);

  /* Sparse but valid: empty strings and zeros, still well-formed. */
  cJSON *bare = cJSON_Parse("{\"scenarios\":[{\"outcome\":\"PASS\"},{},{\"events\":5}]}");
  ck_assert_int_eq(report_write_junit(bare, path, err, sizeof err), 0);
  if (access("/usr/bin/xmllint", X_OK) == 0) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "/usr/bin/xmllint --noout '%s'", path);
    ck_assert_int_eq(system(cmd), 0);
  }
  in_dir(path, sizeof path, "x.html");
  ck_assert_int_eq(report_write_html(bare, path, err, sizeof err), 0);
  cJSON_Delete(bare);
}
END_TEST

static const char JUNIT_CASE_CHECK[] =
    "import sys, xml.etree.ElementTree as ET\n"
    "r = ET.parse(sys.argv[1]).getroot()\n"
    "cases = {c.get('name'): c for c in r.iter('testcase')}\n"
    "def props(c): return {p.get('name'): p.get('value') for p in c.find('properties')}\n"
    "f = cases['f@emu1']\n"
    "assert f.get('timestamp') == '2026-12-07T08:01:02.345Z', f.attrib\n"
    "assert f.get('file') == 'scenarios/qcloud/03_resume.lua' and f.get('line') == '42', f.attrib\n"
    "p = props(f)\n"
    "assert p['location'] == 'scenarios/qcloud/03_resume.lua:42', p\n"
    "assert p['seed'] == '7' and p['log'] == 'out/logs/f.log' and p['console'] == 'out/logs/f.console', p\n"
    "assert p['events'] == 'out/logs/f.events.json', p\n"
    "lib = cases['lib@emu1']\n"
    "assert lib.get('line') is None and props(lib)['location'] == 'scenarios/lib/qcloud.lua:310', lib.attrib\n"
    "assert props(lib)['seed'] == '42', props(lib)\n"
    "ok = cases['ok@emu1']\n"
    "assert ok.get('line') is None and 'location' not in props(ok), props(ok)\n"
    "assert 'mqtt.in' not in ok.find('system-out').text\n"
    "big = cases['big@emu1'].find('system-out').text\n"
    "assert len(big) < 40000 and 'bytes left out here; the whole log: out/logs/big.log' in big, len(big)\n"
    "assert big.rstrip().endswith('last-line'), big[-200:]\n"
    "sys.exit(0)\n";

static cJSON *synthetic_case(const char *id, const char *outcome, const char *msg, int nev) {
  cJSON *s = cJSON_CreateObject();
  char buf[256];
  cJSON_AddStringToObject(s, "id", id);
  cJSON_AddStringToObject(s, "suite", "qcloud");
  cJSON_AddStringToObject(s, "device", "emu1");
  cJSON_AddStringToObject(s, "file", "scenarios/qcloud/03_resume.lua");
  cJSON_AddStringToObject(s, "outcome", outcome);
  cJSON_AddStringToObject(s, "message", msg);
  cJSON_AddNumberToObject(s, "duration", 1.5);
  cJSON_AddStringToObject(s, "started", "2026-12-07T08:01:02.345Z");
  snprintf(buf, sizeof buf, "out/logs/%.*s.log", (int)strcspn(id, "@"), id);
  cJSON_AddStringToObject(s, "log", buf);
  snprintf(buf, sizeof buf, "out/logs/%.*s.console", (int)strcspn(id, "@"), id);
  cJSON_AddStringToObject(s, "console", buf);
  snprintf(buf, sizeof buf, "out/logs/%.*s.events.json", (int)strcspn(id, "@"), id);
  cJSON_AddStringToObject(s, "events_file", buf);
  cJSON *evs = cJSON_AddArrayToObject(s, "events");
  for (int i = 0; i < nev; i++) {
    snprintf(buf, sizeof buf, "{\"type\":\"report_progress\",\"report\":{\"progress\":{\"state\":\"downloading\",\"percent\":\"%d\"}}}", i % 100);
    cJSON_AddItemToArray(evs, event(i * 0.01, "mqtt.in", "$ota/report/OTAHILQC01/emu1", i == nev - 1 ? "last-line" : buf));
  }
  return s;
}

START_TEST(junit_per_case_fields) {
  cJSON *run = cJSON_Parse("{\"seed\":42,\"scenarios\":[]}");
  cJSON *scs = cJSON_GetObjectItem(run, "scenarios");
  cJSON *f = synthetic_case("f@emu1", "FAIL", "scenarios/qcloud/03_resume.lua:42: expected range 87381, saw 0", 3);
  cJSON_AddNumberToObject(f, "seed", 7);
  cJSON_AddItemToArray(scs, f);
  cJSON_AddItemToArray(scs, synthetic_case("lib@emu1", "ERROR", "step timed out at scenarios/lib/qcloud.lua:310: no report", 3));
  cJSON_AddItemToArray(scs, synthetic_case("ok@emu1", "PASS", "", 3));
  cJSON_AddItemToArray(scs, synthetic_case("big@emu1", "FAIL", "x", 5000));
  char path[128], err[512] = "";
  in_dir(path, sizeof path, "junit.xml");
  ck_assert_msg(report_write_junit(run, path, err, sizeof err) == 0, "%s", err);
  cJSON_Delete(run);
  ck_assert_int_eq(run_python(JUNIT_CASE_CHECK, path), 0);
}
END_TEST

/* A nightly run: 1000 cases of 100 events, 50 of them failing with 3000
 * events each; junit.xml stays small (issue 15: under 5 MB). */
START_TEST(junit_1000_cases_is_small) {
  cJSON *run = cJSON_Parse("{\"seed\":42,\"scenarios\":[]}");
  cJSON *scs = cJSON_GetObjectItem(run, "scenarios");
  for (int i = 0; i < 1000; i++) {
    char id[64];
    snprintf(id, sizeof id, "qcloud/c%04d@emu1", i);
    int bad = i % 20 == 0;
    cJSON_AddItemToArray(scs, synthetic_case(id, bad ? "FAIL" : "PASS",
                                             bad ? "scenarios/qcloud/03_resume.lua:42: no" : "",
                                             bad ? 3000 : 100));
  }
  char path[128], err[512] = "";
  in_dir(path, sizeof path, "junit.xml");
  ck_assert_msg(report_write_junit(run, path, err, sizeof err) == 0, "%s", err);
  cJSON_Delete(run);
  struct stat st;
  ck_assert_int_eq(stat(path, &st), 0);
  fprintf(stderr, "junit.xml of 1000 cases (50 failing): %lld bytes\n", (long long)st.st_size);
  ck_assert_int_lt(st.st_size, 5 * 1000 * 1000);
}
END_TEST

/* Debian's junitparser (what CI scripts use) reads the verdicts; the Surefire
 * rerun elements it does not know are checked on its elements. */
static const char JUNIT_RERUN_CHECK[] =
    "import sys\n"
    "from junitparser import JUnitXml, Error, Failure\n"
    "x = JUnitXml.fromfile(sys.argv[1])\n"
    "cases = {c.name: c for s in x for c in s}\n"
    "fl = cases['flaky@emu1']\n"
    "assert fl.result == [], fl.result\n"
    "el = fl._elem\n"
    "fe = el.findall('flakyError')\n"
    "assert len(fe) == 2, [c.tag for c in el]\n"
    "assert [e.get('type') for e in fe] == ['ERROR', 'ERROR'], [e.attrib for e in fe]\n"
    "assert fe[0].get('message') == 'lab: power switch did not answer', fe[0].attrib\n"
    "assert fe[0].find('stackTrace').text == 'lab: power switch did not answer'\n"
    "assert 'out/logs/flaky.attempt1.log' in fe[0].find('system-out').text\n"
    "assert el.find('rerunError') is None and el.find('error') is None\n"
    "for s in x:\n"
    "    assert (s.tests, s.errors, s.failures) == (3, 1, 1), (s.tests, s.errors, s.failures)\n"
    "bad = cases['bad@emu1']\n"
    "assert len(bad.result) == 1 and isinstance(bad.result[0], Failure), bad.result\n"
    "re_ = bad._elem.findall('rerunError')\n"
    "assert len(re_) == 1 and re_[0].get('message') == 'broker gone' and re_[0].find('stackTrace') is not None\n"
    "assert bad._elem.find('flakyError') is None\n"
    "err = cases['err@emu1']\n"
    "assert isinstance(err.result[0], Error) and len(err._elem.findall('rerunError')) == 1\n"
    "sys.exit(0)\n";

static void add_attempt(cJSON *sc, const char *outcome, const char *msg, const char *log) {
  cJSON *arr = cJSON_GetObjectItem(sc, "attempts");
  if (!arr) arr = cJSON_AddArrayToObject(sc, "attempts");
  cJSON *a = cJSON_CreateObject();
  cJSON_AddStringToObject(a, "outcome", outcome);
  cJSON_AddStringToObject(a, "message", msg);
  cJSON_AddStringToObject(a, "log", log);
  cJSON_AddStringToObject(a, "started", "2026-12-07T08:00:00.000Z");
  cJSON_AddNumberToObject(a, "duration", 1.2);
  cJSON_AddItemToArray(arr, a);
}

static cJSON *rerun_run(void) {
  cJSON *run = cJSON_Parse("{\"seed\":42,\"scenarios\":[]}");
  cJSON *scs = cJSON_GetObjectItem(run, "scenarios");
  cJSON *fl = synthetic_case("flaky@emu1", "PASS", "", 3);
  add_attempt(fl, "ERROR", "lab: power switch did not answer", "out/logs/flaky.attempt1.log");
  add_attempt(fl, "ERROR", "lab: power switch did not answer", "out/logs/flaky.attempt2.log");
  cJSON_AddItemToArray(scs, fl);
  cJSON *bad = synthetic_case("bad@emu1", "FAIL", "scenarios/qcloud/03_resume.lua:42: no", 3);
  add_attempt(bad, "ERROR", "broker gone", "out/logs/bad.attempt1.log");
  cJSON_AddItemToArray(scs, bad);
  cJSON *err = synthetic_case("err@emu1", "ERROR", "broker gone again", 3);
  add_attempt(err, "ERROR", "broker gone", "out/logs/err.attempt1.log");
  cJSON_AddItemToArray(scs, err);
  return run;
}

START_TEST(junit_reruns_are_surefire_elements) {
  if (access("/usr/bin/python3", X_OK) != 0 ||
      system("/usr/bin/python3 -c 'import junitparser' 2>/dev/null") != 0)
    ck_abort_msg("needs Debian's python3-junitparser (scripts/install-deps)");
  cJSON *run = rerun_run();
  char path[128], err[512] = "";
  in_dir(path, sizeof path, "junit.xml");
  ck_assert_msg(report_write_junit(run, path, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(run_python_with("/usr/bin/python3", JUNIT_RERUN_CHECK, path), 0);
  /* the text log says every attempt; report.json keeps them */
  cJSON *fl = cJSON_GetArrayItem(cJSON_GetObjectItem(run, "scenarios"), 0);
  char *log = report_render_text_log(fl);
  ck_assert_ptr_nonnull(strstr(log, "\n# attempt 1 ERROR after 1.200 s (started 2026-12-07T08:00:00.000Z): "
                                    "lab: power switch did not answer; log out/logs/flaky.attempt1.log\n"));
  ck_assert_ptr_nonnull(strstr(log, "\n# attempt 2 ERROR"));
  ck_assert_ptr_nonnull(strstr(log, "\n# final attempt: outcome PASS after 1.500 s\n"));
  free(log);
  in_dir(path, sizeof path, "report.json");
  ck_assert_msg(report_write_json(run, path, err, sizeof err) == 0, "%s", err);
  char *text = slurp(path, NULL);
  cJSON *back = cJSON_Parse(text);
  free(text);
  cJSON *a = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(back, "scenarios"), 0), "attempts");
  ck_assert_int_eq(cJSON_GetArraySize(a), 2);
  cJSON_Delete(back);
  cJSON_Delete(run);
}
END_TEST

static const char HTML_CHECK[] =
    "import sys, json, zlib, base64, xml.etree.ElementTree as ET\n"
    "r = ET.parse(sys.argv[1]).getroot()\n"
    "assert r.tag == 'html', r.tag\n"
    "secs = r.findall('.//section')\n"
    "assert len(secs) == 6, len(secs)\n"
    "scripts = r.findall('.//script')\n"
    "assert len(scripts) == 1 and scripts[0].get('src') is None, scripts\n"
    "assert not r.findall('.//img') and not r.findall('.//link')\n"
    "assert r.find(\".//input[@id='q']\") is not None\n"
    "assert sorted(i.get('value') for i in r.iter('input') if i.get('class') == 'of') == "
    "['ERROR', 'FAIL', 'PASS', 'SKIP', 'TIMEOUT', 'other'], [i.attrib for i in r.iter('input')]\n"
    "assert [s.get('data-outcome') for s in secs] == ['PASS', 'FAIL', 'ERROR', 'SKIP', 'TIMEOUT', 'other']\n"
    "assert '<script>' in secs[1].get('data-text') and 'qcloud/02<&\"@emu1' in secs[1].get('data-text')\n"
    "evs = [s.find(\".//div[@class='ev']\") for s in secs]\n"
    "for e in evs:\n"
    "    d = json.loads(zlib.decompress(base64.b64decode(e.get('data-z'))).decode('utf-8', 'replace'))\n"
    "    assert len(d) == 6 and d[0]['kind'] == 'mqtt.out' and d[5] == 7, d\n"
    "auto = [s.find('.//details').get('class') for s in secs]\n"
    "assert auto == ['case-ev', 'case-ev auto', 'case-ev auto', 'case-ev', 'case-ev auto', 'case-ev auto'], auto\n"
    "svg = '{http://www.w3.org/2000/svg}'\n"
    "tl = r.find('.//' + svg + 'svg')\n"
    "assert tl is not None and tl.get('id') == 'timeline', tl\n"
    "bars = [x for x in tl.iter(svg + 'rect') if 'bar' in x.get('class')]\n"
    "assert [b.get('class') for b in bars] == ['bar o-PASS', 'bar attempt', 'bar o-FAIL retried'], [b.attrib for b in bars]\n"
    "assert float(bars[2].get('x')) > float(bars[0].get('x')), 'later case further right'\n"
    "sys.exit(0)\n";

START_TEST(html_self_contained) {
  cJSON *run = make_run(HOSTILE);
  cJSON *scs = cJSON_GetObjectItem(run, "scenarios");
  cJSON_AddStringToObject(cJSON_GetArrayItem(scs, 0), "started", "2026-12-07T08:00:00.000Z");
  cJSON_AddStringToObject(cJSON_GetArrayItem(scs, 1), "started", "2026-12-07T08:00:05.500Z");
  add_attempt(cJSON_GetArrayItem(scs, 1), "ERROR", "lab gone", "/abs/out/logs/qcloud/02.attempt1.log");
  char path[128], err[512] = "";
  in_dir(path, sizeof path, "report.html");
  ck_assert_msg(report_write_html(run, path, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(run_python(HTML_CHECK, path), 0);
  /* a 10 MB message: the page stays small (it held it twice) */
  size_t big = 10 * 1000 * 1000;
  char *m = malloc(big + 1);
  memset(m, 'x', big);
  m[big] = '\0';
  cJSON_ReplaceItemInObject(cJSON_GetArrayItem(scs, 2), "message", cJSON_CreateString(m));
  free(m);
  char bigpath[128];
  in_dir(bigpath, sizeof bigpath, "big.html");
  ck_assert_msg(report_write_html(run, bigpath, err, sizeof err) == 0, "%s", err);
  struct stat st;
  ck_assert_int_eq(stat(bigpath, &st), 0);
  ck_assert_int_lt(st.st_size, 100 * 1000);
  char *text = slurp(bigpath, NULL);
  ck_assert_ptr_nonnull(strstr(text, "... (10000000 bytes in all: see the log)"));
  free(text);
  cJSON_Delete(run);
  size_t len;
  char *raw = slurp(path, &len);
  ck_assert_ptr_nonnull(raw);
  ck_assert_ptr_null(strstr(raw, "<script>alert"));
  ck_assert_ptr_nonnull(strstr(raw, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  ck_assert_ptr_null(strstr(raw, "src="));
  ck_assert_ptr_null(strstr(raw, "href=\"http"));
  ck_assert_ptr_null(strstr(raw, "url("));
  ck_assert_ptr_nonnull(strstr(raw, "<a href=\"#s1\">qcloud/02&lt;&amp;&quot;@emu1</a>"));
  ck_assert_ptr_nonnull(strstr(raw, "attempt 1: <span class=\"o-ERROR\">ERROR</span> after 1.200 s"));
  /* logs/ keeps its per-suite folders in the link */
  ck_assert_ptr_nonnull(strstr(raw, "log <a href=\"logs/qcloud/02.attempt1.log\">02.attempt1.log</a>"));
  /* the case's files, linked relative to the page (logs/ sits beside it) */
  ck_assert_ptr_nonnull(strstr(raw, "log <a href=\"logs/x.log\">x.log</a>"));
  ck_assert_ptr_nonnull(strstr(raw, "raw console <a href=\"logs/x&quot;&lt;.console\">"));
  free(raw);
  if (access("/usr/bin/xmllint", X_OK) == 0) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "/usr/bin/xmllint --noout '%s'", path);
    ck_assert_int_eq(system(cmd), 0);
  }
}
END_TEST

static Suite *reports_suite(void) {
  Suite *s = suite_create("reports");
  TCase *tc = tcase_create("writers");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, utf8_and_escapers);
  tcase_add_test(tc, junit_hostile_is_well_formed);
  tcase_add_test(tc, junit_per_case_fields);
  tcase_add_test(tc, junit_1000_cases_is_small);
  tcase_add_test(tc, junit_reruns_are_surefire_elements);
  tcase_add_test(tc, json_round_trips);
  tcase_add_test(tc, text_log_one_line_per_event);
  tcase_add_test(tc, html_self_contained);
  tcase_add_test(tc, atomic_failure_keeps_old_file);
  tcase_add_test(tc, bad_documents_are_errors);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(reports_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
