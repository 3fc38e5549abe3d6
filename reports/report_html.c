/* report_html: one self-contained page (inline style, script and SVG, nothing
 * fetched), kept well-formed XML so that XML tools can check it. */
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "deflate64.h"
#include "report_html_parts.h"
#include "report_util.h"

static void rh__text(strbuf *b, const char *s) { sb_xml(b, s); }

/* A link to a file of logs/ (the page sits beside that folder): the part of
 * its path from the last "logs/" on (logs/<suite>/<case>.log), else its name. */
static void rh__logs_link(strbuf *b, const char *label, const char *path) {
  const char *slash = strrchr(path, '/');
  const char *name = slash ? slash + 1 : path;
  if (!*name) return;
  const char *rel = NULL;
  for (const char *p = strstr(path, "logs/"); p; p = strstr(p + 1, "logs/"))
    if (p == path || p[-1] == '/') rel = p + 5;
  sb_printf(b, " · %s <a href=\"logs/", label);
  rh__text(b, rel ? rel : name);
  sb_puts(b, "\">");
  rh__text(b, name);
  sb_puts(b, "</a>");
}

/* A message, cut at `max` bytes (at a UTF-8 boundary) with a note: a 10 MB
 * message must not make the page 20 MB; the case's log has the whole. */
static void rh__message(strbuf *b, const char *msg, size_t max) {
  size_t n = strlen(msg);
  if (n <= max) {
    rh__text(b, msg);
    return;
  }
  while (max > 0 && ((unsigned char)msg[max] & 0xC0) == 0x80) max--;
  strbuf t;
  sb_init(&t);
  sb_add(&t, msg, max);
  rh__text(b, t.p ? t.p : "");
  if (t.oom) b->oom = 1;
  sb_free(&t);
  sb_printf(b, "... (%zu bytes in all: see the log)", n);
}

static const char *rh__outcome_class(const cJSON *sc) {
  const char *o = ru_outcome(sc);
  return o ? o : "other";
}

/* What the search box looks in: id, suite, device, file and message, in lower
 * case (ASCII), the message cut at 300 bytes. */
static void rh__search_text(strbuf *b, const cJSON *sc) {
  strbuf t;
  sb_init(&t);
  const char *keys[] = {"id", "suite", "device", "file", "message"};
  for (size_t i = 0; i < 5; i++) {
    const char *v = ru_str(sc, keys[i]);
    size_t n = strlen(v);
    sb_add(&t, v, n > 300 ? 300 : n);
    sb_add(&t, " ", 1);
  }
  for (size_t i = 0; i < t.len; i++)
    if (t.p[i] >= 'A' && t.p[i] <= 'Z') t.p[i] = (char)(t.p[i] - 'A' + 'a');
  sb_xml(b, t.p ? t.p : "");
  if (t.oom) b->oom = 1;
  sb_free(&t);
}

/* data-case, data-outcome (FLAKY for a pass after earlier attempts) and
 * data-text: what the filters and the search box read. */
static void rh__filter_attrs(strbuf *b, const cJSON *sc) {
  const char *o = rh__outcome_class(sc);
  if (!strcmp(o, "PASS") && ru_attempts(sc) && cJSON_GetArraySize(ru_attempts(sc)) > 0) o = "FLAKY";
  sb_printf(b, " data-case=\"\" data-outcome=\"%s\" data-text=\"", o);
  rh__search_text(b, sc);
  sb_puts(b, "\"");
}

static void rh__attempts(strbuf *b, const cJSON *sc) {
  int n = 0;
  const cJSON *a;
  cJSON_ArrayForEach(a, ru_attempts(sc)) {
    sb_puts(b, n ? "" : "<ul class=\"attempts\">\n");
    sb_printf(b, "<li>attempt %d: <span class=\"o-%s\">", ++n, ru_outcome(a) ? ru_outcome(a) : "other");
    rh__text(b, ru_str(a, "outcome"));
    sb_printf(b, "</span> after %.3f s", ru_num(a, "duration", 0));
    if (*ru_str(a, "started")) {
      sb_puts(b, ", started ");
      rh__text(b, ru_str(a, "started"));
    }
    if (*ru_str(a, "message")) {
      sb_puts(b, ": ");
      rh__message(b, ru_str(a, "message"), 4096);
    }
    rh__logs_link(b, "log", ru_str(a, "log"));
    sb_puts(b, "</li>\n");
  }
  if (n) sb_puts(b, "</ul>\n");
}

/* The events, deflated and base64'd, for the page's script to unpack when the
 * case is opened. */
static void rh__events(strbuf *b, const cJSON *sc) {
  cJSON *owned;
  const cJSON *events = ru_events(sc, &owned);
  int nev = cJSON_IsArray(events) ? cJSON_GetArraySize(events) : 0;
  if (nev) {
    char *json = cJSON_PrintUnformatted(events);
    if (!json) {
      b->oom = 1;
    } else {
      const char *o = ru_outcome(sc);
      int auto_open = !o || (strcmp(o, "PASS") != 0 && strcmp(o, "SKIP") != 0);
      sb_printf(b, "<details class=\"case-ev%s\" data-dur=\"%.3f\"><summary>events (%d): download chart, "
                   "table, console</summary>\n<div class=\"ev\" data-z=\"",
                auto_open ? " auto" : "", ru_num(sc, "duration", 0), nev);
      deflate64_append(b, json, strlen(json));
      sb_puts(b, "\"></div></details>\n");
      cJSON_free(json);
    }
  }
  cJSON_Delete(owned);
}

static void rh__scenario(strbuf *b, const cJSON *sc, int idx) {
  sb_printf(b, "<section id=\"s%d\"", idx);
  rh__filter_attrs(b, sc);
  sb_puts(b, ">\n<h2>");
  rh__text(b, ru_str(sc, "id"));
  sb_printf(b, " <span class=\"o-%s\">", rh__outcome_class(sc));
  rh__text(b, ru_str(sc, "outcome"));
  sb_puts(b, "</span></h2>\n<p>");
  rh__text(b, ru_str(sc, "name"));
  sb_puts(b, "<br/>file ");
  rh__text(b, ru_str(sc, "file"));
  sb_puts(b, " · device ");
  rh__text(b, ru_str(sc, "device"));
  if (*ru_str(sc, "started")) {
    sb_puts(b, " · started ");
    rh__text(b, ru_str(sc, "started"));
  }
  sb_printf(b, " · %.3f s", ru_num(sc, "duration", 0));
  rh__logs_link(b, "log", ru_str(sc, "log"));
  rh__logs_link(b, "raw console", ru_str(sc, "console"));
  sb_puts(b, "</p>\n");
  const char *msg = ru_str(sc, "message");
  if (*msg) {
    sb_puts(b, "<p class=\"msg\">");
    rh__message(b, msg, 4096);
    sb_puts(b, "</p>\n");
  }
  rh__attempts(b, sc);
  rh__events(b, sc);
  sb_puts(b, "</section>\n");
}

static void rh__filters(strbuf *b, const int *counts) {
  static const char *const names[] = {"PASS", "FLAKY", "FAIL", "ERROR", "TIMEOUT", "SKIP", "other"};
  sb_puts(b, "<div id=\"filters\">show ");
  for (int i = 0; i < 7; i++) {
    if (!counts[i] && i != 0) continue;
    sb_printf(b, "<label><input type=\"checkbox\" class=\"of\" value=\"%s\" checked=\"checked\"/> "
                 "<span class=\"o-%s\">%s</span> (%d)</label>",
              names[i], names[i], names[i], counts[i]);
  }
  sb_puts(b, " <input id=\"q\" type=\"search\" placeholder=\"search id, device, file, message\"/> "
             "<span id=\"shown\"></span></div>\n");
}

/* counts: PASS (clean), FLAKY, FAIL, ERROR, TIMEOUT, SKIP, other. */
static void rh__count(const cJSON *scs, int *counts) {
  const cJSON *sc;
  cJSON_ArrayForEach(sc, scs) {
    static const char *const names[] = {"PASS", "FLAKY", "FAIL", "ERROR", "TIMEOUT", "SKIP"};
    const char *o = ru_outcome(sc);
    if (o && !strcmp(o, "PASS") && cJSON_GetArraySize(ru_attempts(sc)) > 0) o = "FLAKY";
    int i = 0;
    while (i < 6 && (!o || strcmp(o, names[i]) != 0)) i++;
    counts[i]++;
  }
}

static void rh__head(strbuf *b, const cJSON *run) {
  sb_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
             "<title>otahil report</title><style>");
  sb_puts(b, RH_CSS);
  sb_puts(b, "</style></head><body>\n<h1>");
  const char *tool = ru_str(run, "tool");
  rh__text(b, *tool ? tool : "otahil");
  sb_puts(b, " run</h1>\n<p>started ");
  rh__text(b, ru_str(run, "started"));
  sb_printf(b, " · %.3f s · seed ", ru_num(run, "duration", 0));
  const cJSON *seed = cJSON_GetObjectItemCaseSensitive(run, "seed");
  if (seed) {
    strbuf s;
    sb_init(&s);
    sb_add(&s, "", 0);
    ru_value_line(&s, seed);
    rh__text(b, s.p ? s.p : "");
    if (s.oom) b->oom = 1;
    sb_free(&s);
  }
  sb_puts(b, " · lab ");
  rh__text(b, ru_str(run, "lab"));
  sb_puts(b, " · version ");
  rh__text(b, ru_str(run, "version"));
  sb_puts(b, "</p>\n");
}

static void rh__summary(strbuf *b, const int *c, int total) {
  sb_printf(b,
            "<table class=\"summary\"><tr><th>total</th><th>pass</th><th>flaky</th><th>fail</th>"
            "<th>error</th><th>timeout</th><th>skip</th>%s</tr>\n"
            "<tr><td>%d</td><td class=\"o-PASS\">%d</td><td class=\"o-FLAKY\">%d</td>"
            "<td class=\"o-FAIL\">%d</td><td class=\"o-ERROR\">%d</td><td class=\"o-TIMEOUT\">%d</td>"
            "<td class=\"o-SKIP\">%d</td>",
            c[6] ? "<th>unknown</th>" : "", total, c[0], c[1], c[2], c[3], c[4], c[5]);
  if (c[6]) sb_printf(b, "<td class=\"o-other\">%d</td>", c[6]);
  sb_puts(b, "</tr></table>\n");
}

static void rh__case_table(strbuf *b, const cJSON *scs) {
  sb_puts(b, "<table class=\"scenarios\"><thead><tr><th>scenario</th><th>suite</th>"
             "<th>device</th><th>outcome</th><th>time (s)</th><th>message</th></tr></thead>"
             "<tbody>\n");
  int i = 0;
  const cJSON *sc;
  cJSON_ArrayForEach(sc, scs) {
    sb_puts(b, "<tr");
    rh__filter_attrs(b, sc);
    sb_printf(b, "><td><a href=\"#s%d\">", i++);
    rh__text(b, ru_str(sc, "id"));
    sb_puts(b, "</a></td><td>");
    rh__text(b, ru_str(sc, "suite"));
    sb_puts(b, "</td><td>");
    rh__text(b, ru_str(sc, "device"));
    sb_printf(b, "</td><td class=\"o-%s\">", rh__outcome_class(sc));
    rh__text(b, ru_str(sc, "outcome"));
    int na = cJSON_GetArraySize(ru_attempts(sc));
    if (na) sb_printf(b, " (after %d earlier attempt%s)", na, na > 1 ? "s" : "");
    sb_printf(b, "</td><td>%.3f</td><td>", ru_num(sc, "duration", 0));
    rh__message(b, ru_str(sc, "message"), 300);
    sb_puts(b, "</td></tr>\n");
  }
  sb_puts(b, "</tbody></table>\n");
}

int report_write_html(const cJSON *run, const char *path, char *err, size_t errlen) {
  if (!path) {
    ru_err(err, errlen, "report_write_html: no path");
    return -1;
  }
  const cJSON *scs = ru_scenarios(run, "report_write_html", path, err, errlen);
  if (!scs) return -1;
  int counts[7] = {0};
  rh__count(scs, counts);
  strbuf b;
  sb_init(&b);
  rh__head(&b, run);
  rh__summary(&b, counts, cJSON_GetArraySize(scs));
  rh_timeline(&b, scs);
  rh__filters(&b, counts);
  rh__case_table(&b, scs);
  int i = 0;
  const cJSON *sc;
  cJSON_ArrayForEach(sc, scs) rh__scenario(&b, sc, i++);
  /* CDATA for XML tools; an HTML parser reads the markers as JS comments */
  sb_puts(&b, "<script>//<![CDATA[\n");
  sb_puts(&b, RH_JS);
  sb_puts(&b, "//]]>\n</script>\n</body></html>\n");
  int rc = ru_finish(&b, "report_write_html", path, err, errlen);
  sb_free(&b);
  return rc;
}
