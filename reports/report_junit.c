/* report_junit: JUnit XML, as Jenkins, GitLab and friends read it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "report_util.h"

#define RJ_MESSAGE_MAX 4096
#define RJ_LOG_MAX (32 * 1024) /* of a case's log in <system-out> */

typedef struct rj_counts {
  int tests, failures, errors, skipped;
  double time;
} rj_counts;

static const char *rj__suite(const cJSON *sc) {
  const char *s = ru_str(sc, "suite");
  return *s ? s : "otahil";
}

static void rj__count(const cJSON *sc, rj_counts *c) {
  const char *o = ru_outcome(sc);
  c->tests++;
  c->time += ru_num(sc, "duration", 0);
  if (!o || !strcmp(o, "ERROR") || !strcmp(o, "TIMEOUT")) c->errors++;
  else if (!strcmp(o, "FAIL")) c->failures++;
  else if (!strcmp(o, "SKIP")) c->skipped++;
}

static void rj__counts_attrs(strbuf *b, const rj_counts *c) {
  sb_printf(b, " tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.3f\"",
            c->tests, c->failures, c->errors, c->skipped, c->time);
}

static void rj__attr(strbuf *b, const char *name, const char *value) {
  sb_printf(b, " %s=\"", name);
  sb_xml(b, value);
  sb_puts(b, "\"");
}

static void rj__property(strbuf *b, int indent, const char *name, const cJSON *v) {
  if (!v) return;
  strbuf val;
  sb_init(&val);
  sb_add(&val, "", 0);
  ru_value_line(&val, v);
  sb_printf(b, "%*s<property name=\"%s\" value=\"", indent, "", name);
  sb_xml(b, val.p ? val.p : "");
  sb_puts(b, "\"/>\n");
  if (val.oom) b->oom = 1;
  sb_free(&val);
}

/* A message is a line, not a dump: a 10 MB one must not make a 50 MB file. */
static void rj__message(strbuf *m, const char *o, const cJSON *sc) {
  const char *msg = ru_str(sc, "message");
  sb_add(m, "", 0);
  if (!o) { /* say what the document claimed instead of hiding it */
    sb_puts(m, "unknown outcome '");
    sb_puts(m, ru_str(sc, "outcome"));
    sb_puts(m, "'");
    if (*msg) sb_puts(m, ": ");
  }
  size_t mlen = strlen(msg);
  if (mlen > RJ_MESSAGE_MAX) {
    sb_add(m, msg, RJ_MESSAGE_MAX);
    sb_printf(m, "... (%zu bytes in all; the case's log has the whole)", mlen);
  } else {
    sb_puts(m, msg);
  }
}

static void rj__string_property(strbuf *b, const char *name, const char *value) {
  if (!*value) return;
  sb_printf(b, "        <property name=\"%s\" value=\"", name);
  sb_xml(b, value);
  sb_puts(b, "\"/>\n");
}

/* Per case: what a person needs to rerun it and to find its files. */
static void rj__case_properties(strbuf *b, const cJSON *run, const cJSON *sc, const char *loc) {
  sb_puts(b, "      <properties>\n");
  rj__property(b, 8, "seed", ru_seed(run, sc));
  rj__string_property(b, "device", ru_str(sc, "device"));
  rj__string_property(b, "location", loc);
  rj__string_property(b, "log", ru_str(sc, "log"));
  rj__string_property(b, "console", ru_str(sc, "console"));
  rj__string_property(b, "events", ru_str(sc, "events_file"));
  sb_puts(b, "      </properties>\n");
}

static void rj__verdict(strbuf *b, const char *o, const cJSON *sc) {
  if (o && !strcmp(o, "SKIP")) {
    sb_puts(b, "      <skipped");
    rj__attr(b, "message", ru_str(sc, "message"));
    sb_puts(b, "/>\n");
    return;
  }
  if (o && !strcmp(o, "PASS")) return;
  int fail = o && !strcmp(o, "FAIL");
  strbuf m;
  sb_init(&m);
  rj__message(&m, o, sc);
  sb_printf(b, "      <%s", fail ? "failure" : "error");
  rj__attr(b, "message", m.p ? m.p : "");
  rj__attr(b, "type", o ? o : "ERROR");
  sb_puts(b, ">");
  sb_xml(b, m.p ? m.p : "");
  sb_printf(b, "</%s>\n", fail ? "failure" : "error");
  if (m.oom) b->oom = 1;
  sb_free(&m);
}

/* Surefire's reruns: each earlier attempt of a case that passed in the end is
 * a <flakyError> (or <flakyFailure>, for a FAIL), of one that did not a
 * <rerunError> (<rerunFailure>) beside its verdict; each holds the attempt's
 * message as <stackTrace> and where its log is as <system-out>. */
static void rj__attempts(strbuf *b, const char *o, const cJSON *sc) {
  if (o && !strcmp(o, "SKIP")) return;
  int flaky = o && !strcmp(o, "PASS"), n = 0;
  const cJSON *a;
  cJSON_ArrayForEach(a, ru_attempts(sc)) {
    const char *ao = ru_outcome(a);
    const char *el = ao && !strcmp(ao, "FAIL") ? (flaky ? "flakyFailure" : "rerunFailure")
                                                : (flaky ? "flakyError" : "rerunError");
    strbuf m;
    sb_init(&m);
    rj__message(&m, ao, a);
    sb_printf(b, "      <%s", el);
    rj__attr(b, "message", m.p ? m.p : "");
    rj__attr(b, "type", ao ? ao : "ERROR");
    sb_puts(b, ">\n        <stackTrace>");
    sb_xml(b, m.p ? m.p : "");
    sb_puts(b, "</stackTrace>\n");
    /* Surefire's schema has message and type only: the rest goes here */
    sb_printf(b, "        <system-out>attempt %d: %.3f s", ++n, ru_num(a, "duration", 0));
    if (*ru_str(a, "started")) {
      sb_puts(b, ", started ");
      sb_xml(b, ru_str(a, "started"));
    }
    if (*ru_str(a, "log")) {
      sb_puts(b, ", log ");
      sb_xml(b, ru_str(a, "log"));
    }
    sb_puts(b, "</system-out>\n");
    sb_printf(b, "      </%s>\n", el);
    if (m.oom) b->oom = 1;
    sb_free(&m);
  }
}

/* Appends at most RJ_LOG_MAX bytes of `log`: its head and its tail, where a
 * failure usually is; the case's log file has the whole. */
static void rj__log_text(strbuf *b, const char *log, const char *path) {
  size_t n = strlen(log);
  if (n <= RJ_LOG_MAX) {
    sb_xml(b, log);
    return;
  }
  size_t head = RJ_LOG_MAX / 4, tail = RJ_LOG_MAX - head;
  while (head > 0 && log[head - 1] != '\n') head--;
  const char *t = log + n - tail;
  while (*t && t[-1] != '\n') t++;
  strbuf h;
  sb_init(&h);
  sb_add(&h, log, head);
  sb_xml(b, h.p ? h.p : "");
  if (h.oom) b->oom = 1;
  sb_free(&h);
  sb_printf(b, "... %zu bytes left out here; the whole log: ", (size_t)(t - log) - head);
  sb_xml(b, path);
  sb_puts(b, "\n");
  sb_xml(b, t);
}

/* The whole event log only where someone will read it: a case that did not pass. */
static void rj__system_out(strbuf *b, const char *o, const cJSON *sc) {
  int passed = o && (!strcmp(o, "PASS") || !strcmp(o, "SKIP"));
  if (passed) { /* just where its files are: GitLab shows this, not properties */
    strbuf s;
    sb_init(&s);
    sb_add(&s, "", 0);
    if (*ru_str(sc, "log")) sb_printf(&s, "log: %s\n", ru_str(sc, "log"));
    if (*ru_str(sc, "console")) sb_printf(&s, "console: %s\n", ru_str(sc, "console"));
    if (s.len) {
      sb_puts(b, "      <system-out>");
      sb_xml(b, s.p);
      sb_puts(b, "</system-out>\n");
    }
    if (s.oom) b->oom = 1;
    sb_free(&s);
    return;
  }
  char *log = report_render_text_log(sc);
  if (!log) {
    b->oom = 1;
    return;
  }
  sb_puts(b, "      <system-out>");
  rj__log_text(b, log, ru_str(sc, "log"));
  sb_puts(b, "</system-out>\n");
  free(log);
}

static void rj__testcase(strbuf *b, const cJSON *run, const cJSON *sc) {
  const char *id = ru_str(sc, "id");
  if (!*id) id = ru_str(sc, "name");
  const char *o = ru_outcome(sc);
  char locfile[512], loc[600] = "";
  long line = 0;
  int passed = o && (!strcmp(o, "PASS") || !strcmp(o, "SKIP"));
  if (!passed && ru_location(ru_str(sc, "message"), locfile, sizeof locfile, &line))
    snprintf(loc, sizeof loc, "%s:%ld", locfile, line);
  sb_puts(b, "    <testcase");
  rj__attr(b, "classname", rj__suite(sc));
  rj__attr(b, "name", id);
  sb_printf(b, " time=\"%.3f\"", ru_num(sc, "duration", 0));
  const char *file = ru_str(sc, "file");
  if (*file) rj__attr(b, "file", file);
  /* line= belongs to file=: only when the failure is in the scenario itself */
  if (*loc && *file && !strcmp(locfile, file)) sb_printf(b, " line=\"%ld\"", line);
  const char *started = ru_str(sc, "started");
  if (*started) rj__attr(b, "timestamp", started);
  sb_puts(b, ">\n");
  rj__case_properties(b, run, sc, loc);
  rj__verdict(b, o, sc);
  rj__attempts(b, o, sc);
  rj__system_out(b, o, sc);
  sb_puts(b, "    </testcase>\n");
}

int report_write_junit(const cJSON *run, const char *path, char *err, size_t errlen) {
  if (!path) {
    ru_err(err, errlen, "report_write_junit: no path");
    return -1;
  }
  const cJSON *scs = ru_scenarios(run, "report_write_junit", path, err, errlen);
  if (!scs) return -1;
  int n = cJSON_GetArraySize(scs);

  /* Suites in order of first appearance. */
  const char **suites = calloc((size_t)n + 1, sizeof *suites);
  if (!suites) {
    ru_err(err, errlen, "report_write_junit %s: out of memory", path);
    return -1;
  }
  int nsuites = 0;
  rj_counts all = {0};
  const cJSON *sc;
  cJSON_ArrayForEach(sc, scs) {
    const char *s = rj__suite(sc);
    int seen = 0;
    for (int i = 0; i < nsuites && !seen; i++) seen = !strcmp(suites[i], s);
    if (!seen) suites[nsuites++] = s;
    rj__count(sc, &all);
  }

  strbuf b;
  sb_init(&b);
  sb_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
  const char *tool = ru_str(run, "tool");
  rj__attr(&b, "name", *tool ? tool : "otahil");
  rj__counts_attrs(&b, &all);
  const char *started = ru_str(run, "started");
  if (*started) rj__attr(&b, "timestamp", started);
  sb_puts(&b, ">\n");

  for (int i = 0; i < nsuites; i++) {
    rj_counts c = {0};
    cJSON_ArrayForEach(sc, scs) if (!strcmp(rj__suite(sc), suites[i])) rj__count(sc, &c);
    sb_puts(&b, "  <testsuite");
    rj__attr(&b, "name", suites[i]);
    rj__counts_attrs(&b, &c);
    if (*started) rj__attr(&b, "timestamp", started);
    sb_puts(&b, ">\n    <properties>\n");
    rj__property(&b, 6, "tool", cJSON_GetObjectItemCaseSensitive(run, "tool"));
    rj__property(&b, 6, "version", cJSON_GetObjectItemCaseSensitive(run, "version"));
    rj__property(&b, 6, "seed", cJSON_GetObjectItemCaseSensitive(run, "seed"));
    rj__property(&b, 6, "lab", cJSON_GetObjectItemCaseSensitive(run, "lab"));
    sb_puts(&b, "    </properties>\n");
    cJSON_ArrayForEach(sc, scs) if (!strcmp(rj__suite(sc), suites[i])) rj__testcase(&b, run, sc);
    sb_puts(&b, "  </testsuite>\n");
  }
  sb_puts(&b, "</testsuites>\n");
  free(suites);
  int rc = ru_finish(&b, "report_write_junit", path, err, errlen);
  sb_free(&b);
  return rc;
}
