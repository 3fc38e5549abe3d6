/* report_html_timeline: where the run's time went, per device. */
#define _DEFAULT_SOURCE /* timegm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report_html_parts.h"
#include "report_util.h"

#define TL_W 960.0
#define TL_LABEL 170.0 /* the device names */
#define TL_ROW 18.0
#define TL_TOP 4.0
#define TL_AXIS 22.0
#define TL_MAX_ROWS 200

static int tl__digits(const char *s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 1;
}

double rh_iso_seconds(const char *s) {
  int Y, M, D, h, m, sec, ms = 0;
  if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
    return -1;
  if (!tl__digits(s, 4, &Y) || !tl__digits(s + 5, 2, &M) || !tl__digits(s + 8, 2, &D) ||
      !tl__digits(s + 11, 2, &h) || !tl__digits(s + 14, 2, &m) || !tl__digits(s + 17, 2, &sec))
    return -1;
  const char *p = s + 19;
  if (*p == '.') {
    int n = 0, v = 0;
    for (p++; *p >= '0' && *p <= '9'; p++, n++)
      if (n < 3) v = v * 10 + (*p - '0');
    for (; n < 3; n++) v *= 10;
    ms = v;
  }
  if (strcmp(p, "Z") != 0) return -1;
  struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m, .tm_sec = sec};
  return (double)timegm(&tm) + ms / 1000.0;
}

static int tl__row(const char **devs, int *ndev, const char *dev) {
  for (int i = 0; i < *ndev; i++)
    if (!strcmp(devs[i], dev)) return i;
  if (*ndev == TL_MAX_ROWS) return TL_MAX_ROWS - 1; /* the last row takes the rest */
  devs[*ndev] = dev;
  return (*ndev)++;
}

static void tl__bar(strbuf *b, double x, double y, double w, const char *cls, int idx, const char *title) {
  sb_printf(b, "<a href=\"#s%d\"><rect class=\"bar %s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
               "<title>", idx, cls, x, y, w < 1 ? 1 : w, TL_ROW - 4);
  sb_xml(b, title);
  sb_puts(b, "</title></rect></a>\n");
}

/* The bars of one case: its earlier attempts, then itself. */
static void tl__case(strbuf *b, const cJSON *sc, int idx, double t0, double scale, double y) {
  const cJSON *a;
  cJSON_ArrayForEach(a, ru_attempts(sc)) {
    double s = rh_iso_seconds(ru_str(a, "started"));
    if (s < 0) continue;
    strbuf t;
    sb_init(&t);
    sb_printf(&t, "%s: earlier attempt %s, %.3f s", ru_str(sc, "id"), ru_str(a, "outcome"), ru_num(a, "duration", 0));
    tl__bar(b, TL_LABEL + (s - t0) * scale, y, ru_num(a, "duration", 0) * scale, "attempt", idx, t.p ? t.p : "");
    sb_free(&t);
  }
  double s = rh_iso_seconds(ru_str(sc, "started"));
  const char *o = ru_outcome(sc);
  char cls[32];
  const char *more = !cJSON_GetArraySize(ru_attempts(sc)) ? "" : o && !strcmp(o, "PASS") ? " flaky" : " retried";
  snprintf(cls, sizeof cls, "o-%s%s", o ? o : "other", more);
  strbuf t;
  sb_init(&t);
  sb_printf(&t, "%s: %s, %.3f s", ru_str(sc, "id"), ru_str(sc, "outcome"), ru_num(sc, "duration", 0));
  tl__bar(b, TL_LABEL + (s - t0) * scale, y, ru_num(sc, "duration", 0) * scale, cls, idx, t.p ? t.p : "");
  if (t.oom) b->oom = 1;
  sb_free(&t);
}

void rh_timeline(strbuf *b, const cJSON *scs) {
  double t0 = -1, t1 = -1;
  const cJSON *sc;
  cJSON_ArrayForEach(sc, scs) {
    double s = rh_iso_seconds(ru_str(sc, "started"));
    if (s < 0) continue;
    const cJSON *a;
    cJSON_ArrayForEach(a, ru_attempts(sc)) {
      double as = rh_iso_seconds(ru_str(a, "started"));
      if (as >= 0 && (t0 < 0 || as < t0)) t0 = as;
    }
    if (t0 < 0 || s < t0) t0 = s;
    double e = s + ru_num(sc, "duration", 0);
    if (e > t1) t1 = e;
  }
  if (t0 < 0) return;
  const char *devs[TL_MAX_ROWS];
  int ndev = 0;
  cJSON_ArrayForEach(sc, scs) if (rh_iso_seconds(ru_str(sc, "started")) >= 0) tl__row(devs, &ndev, ru_str(sc, "device"));
  double span = t1 > t0 ? t1 - t0 : 1, scale = (TL_W - TL_LABEL - 30) / span;
  double h = TL_TOP + ndev * TL_ROW + TL_AXIS;
  sb_printf(b, "<h2>timeline</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"timeline\" width=\"%.0f\" "
               "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n", TL_W, h, TL_W, h);
  for (int i = 0; i < ndev; i++) {
    sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", TL_LABEL - 6, TL_TOP + i * TL_ROW + 12);
    sb_xml(b, *devs[i] ? devs[i] : "(no device)");
    sb_printf(b, "</text><line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n", TL_LABEL,
              TL_W - 30, TL_TOP + (i + 1) * TL_ROW - 1, TL_TOP + (i + 1) * TL_ROW - 1);
  }
  int idx = 0;
  cJSON_ArrayForEach(sc, scs) {
    if (rh_iso_seconds(ru_str(sc, "started")) >= 0) {
      int r = tl__row(devs, &ndev, ru_str(sc, "device"));
      tl__case(b, sc, idx, t0, scale, TL_TOP + r * TL_ROW + 2);
    }
    idx++;
  }
  double ay = TL_TOP + ndev * TL_ROW + 14;
  int decimals = span < 1 ? 2 : span < 10 ? 1 : 0;
  for (int i = 0; i <= 5; i++)
    sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.*f s</text>\n",
              TL_LABEL + (TL_W - TL_LABEL - 30) * i / 5.0, ay, decimals, span * i / 5.0);
  sb_puts(b, "</svg>\n");
}
