/* report_html: one self-contained page (inline CSS and SVG, no script, nothing
 * fetched), kept well-formed XML so that XML tools can check it. */
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "report_util.h"

#define PLOT_W 720.0
#define PLOT_H 220.0
#define PLOT_L 78.0 /* margins: room for the axis labels */
#define PLOT_R 48.0
#define PLOT_T 12.0
#define PLOT_B 34.0

static const char CSS[] =
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0}"
    "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;vertical-align:top}"
    "th{background:#eee}"
    ".o-PASS{color:#176f2c;font-weight:bold}.o-FAIL{color:#b00020;font-weight:bold}"
    ".o-ERROR,.o-TIMEOUT,.o-other{color:#8a4b00;font-weight:bold}.o-SKIP{color:#666}"
    "section{border-top:2px solid #ddd;margin-top:1.5em}"
    ".events td{font-family:monospace;font-size:90%;white-space:pre-wrap;word-break:break-all}"
    "pre{background:#f6f6f6;padding:.5em;overflow-x:auto}"
    ".msg{background:#fff3f3;padding:.3em}"
    "svg text{font-size:11px;font-family:sans-serif}";

static void rh__text(strbuf *b, const char *s) { sb_xml(b, s); }

/* A link to a file of logs/ (the page sits beside that folder), by its name. */
static void rh__logs_link(strbuf *b, const char *label, const char *path) {
  const char *slash = strrchr(path, '/');
  const char *name = slash ? slash + 1 : path;
  if (!*name) return;
  sb_printf(b, " · %s <a href=\"logs/", label);
  rh__text(b, name);
  sb_puts(b, "\">");
  rh__text(b, name);
  sb_puts(b, "</a>");
}

static const char *rh__outcome_class(const cJSON *sc) {
  const char *o = ru_outcome(sc);
  return o ? o : "other";
}

static void rh__bytes_label(strbuf *b, double v) {
  if (v >= 1024.0 * 1024.0) sb_printf(b, "%.1f MiB", v / (1024.0 * 1024.0));
  else if (v >= 1024.0) sb_printf(b, "%.1f KiB", v / 1024.0);
  else sb_printf(b, "%.0f B", v);
}

static int rh__is_console(const char *kind) {
  return !strcmp(kind, "uart") || !strcmp(kind, "console") || !strncmp(kind, "uart.", 5) ||
         !strncmp(kind, "console.", 8);
}

/* The body-bytes value of an HTTP event, if it has one. */
static int rh__http_bytes(const cJSON *ev, double *y) {
  if (strncmp(ru_str(ev, "kind"), "http", 4) != 0) return 0;
  double v;
  if (!ru_has_num(ev, "bytes", &v) && !ru_has_num(ev, "sent", &v)) return 0;
  *y = v + ru_num(ev, "offset", 0);
  return 1;
}

static void rh__plot(strbuf *b, const cJSON *sc, const cJSON *events) {
  double tmax = ru_num(sc, "duration", 0), bmax = 0;
  int nbytes = 0, npct = 0;
  const cJSON *ev;
  cJSON_ArrayForEach(ev, events) {
    double t = ru_num(ev, "t", 0), v;
    if (t > tmax) tmax = t;
    if (rh__http_bytes(ev, &v)) {
      nbytes++;
      if (v > bmax) bmax = v;
    }
    if (ru_has_num(ev, "percent", &v)) npct++;
  }
  if (nbytes == 0 && npct == 0) return;
  if (tmax <= 0) tmax = 1;
  if (bmax <= 0) bmax = 1;
  const double pw = PLOT_W - PLOT_L - PLOT_R, ph = PLOT_H - PLOT_T - PLOT_B;
#define X(t) (PLOT_L + pw * ((t) < 0 ? 0 : (t)) / tmax)
#define YB(v) (PLOT_T + ph - ph * ((v) < 0 ? 0 : (v) > bmax ? bmax : (v)) / bmax)
#define YP(p) (PLOT_T + ph - ph * ((p) < 0 ? 0 : (p) > 100 ? 100 : (p)) / 100.0)
  sb_printf(b,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n",
            PLOT_W, PLOT_H, PLOT_W, PLOT_H);
  sb_printf(b,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fafafa\" "
            "stroke=\"#999\"/>\n",
            PLOT_L, PLOT_T, pw, ph);
  /* Axis labels: bytes on the left, percent on the right, time below. */
  sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", PLOT_L - 4, PLOT_T + 10);
  rh__bytes_label(b, bmax);
  sb_puts(b, "</text>\n");
  sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">0</text>\n", PLOT_L - 4,
            PLOT_T + ph);
  sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\">100%%</text>\n", PLOT_L + pw + 4, PLOT_T + 10);
  sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\">0%%</text>\n", PLOT_L + pw + 4, PLOT_T + ph);
  sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\">0 s</text>\n", PLOT_L, PLOT_H - 18);
  sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.3f s</text>\n", PLOT_L + pw,
            PLOT_H - 18, tmax);
  sb_printf(b,
            "<text x=\"%.1f\" y=\"%.1f\" fill=\"#1f5fbf\">HTTP body bytes</text>"
            "<text x=\"%.1f\" y=\"%.1f\" fill=\"#c05000\">progress %%</text>\n",
            PLOT_L + 60, PLOT_H - 4, PLOT_L + 200, PLOT_H - 4);
  if (nbytes) {
    sb_puts(b, "<polyline fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"1.5\" points=\"");
    cJSON_ArrayForEach(ev, events) {
      double v;
      if (rh__http_bytes(ev, &v))
        sb_printf(b, "%.1f,%.1f ", X(ru_num(ev, "t", 0)), YB(v));
    }
    sb_puts(b, "\"/>\n");
  }
  if (npct) {
    sb_puts(b, "<polyline fill=\"none\" stroke=\"#c05000\" stroke-dasharray=\"4 2\" points=\"");
    cJSON_ArrayForEach(ev, events) {
      double p;
      if (ru_has_num(ev, "percent", &p)) sb_printf(b, "%.1f,%.1f ", X(ru_num(ev, "t", 0)), YP(p));
    }
    sb_puts(b, "\"/>\n");
    cJSON_ArrayForEach(ev, events) {
      double p;
      if (ru_has_num(ev, "percent", &p))
        sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"#c05000\"/>\n",
                  X(ru_num(ev, "t", 0)), YP(p));
    }
  }
#undef X
#undef YB
#undef YP
  sb_puts(b, "</svg>\n");
}

/* Everything of an event but t, kind and topic, as one escaped line. */
static void rh__event_detail(strbuf *b, const cJSON *ev) {
  strbuf d;
  sb_init(&d);
  sb_add(&d, "", 0);
  if (cJSON_IsObject(ev)) {
    for (const cJSON *f = ev->child; f; f = f->next) {
      const char *k = f->string ? f->string : "";
      if (!strcmp(k, "t") || !strcmp(k, "kind") || !strcmp(k, "topic") || !strcmp(k, "payload"))
        continue;
      if (d.len) sb_puts(&d, " ");
      sb_line(&d, k);
      sb_puts(&d, "=");
      ru_value_line(&d, f);
    }
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(ev, "payload");
    if (payload) {
      if (d.len) sb_puts(&d, " ");
      ru_value_line(&d, payload);
    }
  } else {
    ru_value_line(&d, ev);
  }
  rh__text(b, d.p ? d.p : "");
  if (d.oom) b->oom = 1;
  sb_free(&d);
}

static void rh__console(strbuf *b, const cJSON *events) {
  int any = 0;
  const cJSON *ev;
  cJSON_ArrayForEach(ev, events) {
    if (!rh__is_console(ru_str(ev, "kind"))) continue;
    if (!any) sb_puts(b, "<details open=\"open\"><summary>console</summary><pre>");
    any = 1;
    const char *keys[] = {"line", "text", "payload"};
    const char *text = "";
    for (size_t i = 0; i < 3 && !*text; i++) text = ru_str(ev, keys[i]);
    sb_printf(b, "%8.3f  ", ru_num(ev, "t", 0));
    /* A console line may hold escape sequences and such: keep it one line. */
    strbuf l;
    sb_init(&l);
    sb_add(&l, "", 0);
    sb_line(&l, text);
    rh__text(b, l.p ? l.p : "");
    if (l.oom) b->oom = 1;
    sb_free(&l);
    sb_puts(b, "\n");
  }
  if (any) sb_puts(b, "</pre></details>\n");
}

static void rh__scenario(strbuf *b, const cJSON *sc, int idx) {
  cJSON *owned;
  const cJSON *events = ru_events(sc, &owned);
  int nev = cJSON_IsArray(events) ? cJSON_GetArraySize(events) : 0;
  sb_printf(b, "<section id=\"s%d\">\n<h2>", idx);
  rh__text(b, ru_str(sc, "id"));
  sb_printf(b, " <span class=\"o-%s\">", rh__outcome_class(sc));
  rh__text(b, ru_str(sc, "outcome"));
  sb_puts(b, "</span></h2>\n<p>");
  rh__text(b, ru_str(sc, "name"));
  sb_puts(b, "<br/>file ");
  rh__text(b, ru_str(sc, "file"));
  sb_puts(b, " · device ");
  rh__text(b, ru_str(sc, "device"));
  sb_printf(b, " · %.3f s", ru_num(sc, "duration", 0));
  rh__logs_link(b, "log", ru_str(sc, "log"));
  rh__logs_link(b, "raw console", ru_str(sc, "console"));
  sb_puts(b, "</p>\n");
  const char *msg = ru_str(sc, "message");
  if (*msg) {
    sb_puts(b, "<p class=\"msg\">");
    rh__text(b, msg);
    sb_puts(b, "</p>\n");
  }
  if (nev) {
    rh__plot(b, sc, events);
    const char *o = ru_outcome(sc);
    int open = !o || strcmp(o, "PASS") != 0; /* failures open, the rest folded */
    sb_printf(b, "<details%s><summary>timeline (%d events)</summary>\n",
              open ? " open=\"open\"" : "", nev);
    sb_puts(b, "<table class=\"events\"><thead><tr><th>t (s)</th><th>kind</th><th>topic</th>"
               "<th>detail</th></tr></thead><tbody>\n");
    const cJSON *ev;
    cJSON_ArrayForEach(ev, events) {
      sb_printf(b, "<tr><td>%.3f</td><td>", ru_num(ev, "t", 0));
      rh__text(b, ru_str(ev, "kind"));
      sb_puts(b, "</td><td>");
      rh__text(b, ru_str(ev, "topic"));
      sb_puts(b, "</td><td>");
      rh__event_detail(b, ev);
      sb_puts(b, "</td></tr>\n");
    }
    sb_puts(b, "</tbody></table></details>\n");
    rh__console(b, events);
  }
  cJSON_Delete(owned);
  sb_puts(b, "</section>\n");
}

int report_write_html(const cJSON *run, const char *path, char *err, size_t errlen) {
  if (!path) {
    ru_err(err, errlen, "report_write_html: no path");
    return -1;
  }
  const cJSON *scs = ru_scenarios(run, "report_write_html", path, err, errlen);
  if (!scs) return -1;
  int total = 0, pass = 0, fail = 0, error = 0, timeout = 0, skip = 0, other = 0;
  const cJSON *sc;
  cJSON_ArrayForEach(sc, scs) {
    const char *o = ru_outcome(sc);
    total++;
    if (!o) other++;
    else if (!strcmp(o, "PASS")) pass++;
    else if (!strcmp(o, "FAIL")) fail++;
    else if (!strcmp(o, "ERROR")) error++;
    else if (!strcmp(o, "TIMEOUT")) timeout++;
    else skip++;
  }

  strbuf b;
  sb_init(&b);
  sb_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
              "<title>otahil report</title><style>");
  sb_puts(&b, CSS);
  sb_puts(&b, "</style></head><body>\n<h1>");
  const char *tool = ru_str(run, "tool");
  rh__text(&b, *tool ? tool : "otahil");
  sb_puts(&b, " run</h1>\n<p>started ");
  rh__text(&b, ru_str(run, "started"));
  sb_printf(&b, " · %.3f s · seed ", ru_num(run, "duration", 0));
  const cJSON *seed = cJSON_GetObjectItemCaseSensitive(run, "seed");
  if (seed) {
    strbuf s;
    sb_init(&s);
    sb_add(&s, "", 0);
    ru_value_line(&s, seed);
    rh__text(&b, s.p ? s.p : "");
    if (s.oom) b.oom = 1;
    sb_free(&s);
  }
  sb_puts(&b, " · lab ");
  rh__text(&b, ru_str(run, "lab"));
  sb_puts(&b, " · version ");
  rh__text(&b, ru_str(run, "version"));
  sb_puts(&b, "</p>\n");
  sb_printf(&b,
            "<table class=\"summary\"><tr><th>total</th><th>pass</th><th>fail</th>"
            "<th>error</th><th>timeout</th><th>skip</th>%s</tr>\n"
            "<tr><td>%d</td><td class=\"o-PASS\">%d</td><td class=\"o-FAIL\">%d</td>"
            "<td class=\"o-ERROR\">%d</td><td class=\"o-TIMEOUT\">%d</td>"
            "<td class=\"o-SKIP\">%d</td>",
            other ? "<th>unknown</th>" : "", total, pass, fail, error, timeout, skip);
  if (other) sb_printf(&b, "<td class=\"o-other\">%d</td>", other);
  sb_puts(&b, "</tr></table>\n");

  sb_puts(&b, "<table class=\"scenarios\"><thead><tr><th>scenario</th><th>suite</th>"
              "<th>device</th><th>outcome</th><th>time (s)</th><th>message</th></tr></thead>"
              "<tbody>\n");
  int i = 0;
  cJSON_ArrayForEach(sc, scs) {
    sb_printf(&b, "<tr><td><a href=\"#s%d\">", i++);
    rh__text(&b, ru_str(sc, "id"));
    sb_puts(&b, "</a></td><td>");
    rh__text(&b, ru_str(sc, "suite"));
    sb_puts(&b, "</td><td>");
    rh__text(&b, ru_str(sc, "device"));
    sb_printf(&b, "</td><td class=\"o-%s\">", rh__outcome_class(sc));
    rh__text(&b, ru_str(sc, "outcome"));
    sb_printf(&b, "</td><td>%.3f</td><td>", ru_num(sc, "duration", 0));
    rh__text(&b, ru_str(sc, "message"));
    sb_puts(&b, "</td></tr>\n");
  }
  sb_puts(&b, "</tbody></table>\n");
  i = 0;
  cJSON_ArrayForEach(sc, scs) rh__scenario(&b, sc, i++);
  sb_puts(&b, "</body></html>\n");
  int rc = ru_finish(&b, "report_write_html", path, err, errlen);
  sb_free(&b);
  return rc;
}
