/* report_util: lenient access to the run document. */
#include "report_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"

void ru_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

const char *ru_str(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

int ru_has_num(const cJSON *o, const char *key, double *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return 0;
  *out = v->valuedouble;
  return 1;
}

double ru_num(const cJSON *o, const char *key, double dflt) {
  double v;
  return ru_has_num(o, key, &v) ? v : dflt;
}

void ru_num_text(strbuf *b, double v) {
  if (!isfinite(v)) sb_puts(b, "null");
  else if (v > -1e15 && v < 1e15 && v == (double)(long long)v) sb_printf(b, "%.0f", v);
  else sb_printf(b, "%g", v);
}

void ru_value_line(strbuf *b, const cJSON *v) {
  if (cJSON_IsString(v)) {
    sb_line(b, v->valuestring ? v->valuestring : "");
  } else if (cJSON_IsNumber(v)) {
    ru_num_text(b, v->valuedouble);
  } else {
    char *s = cJSON_PrintUnformatted(v);
    if (!s) {
      b->oom = 1;
      return;
    }
    sb_line(b, s);
    cJSON_free(s);
  }
}

const cJSON *ru_scenarios(const cJSON *run, const char *who, const char *path, char *err,
                          size_t errlen) {
  if (!cJSON_IsObject(run)) {
    ru_err(err, errlen, "%s %s: the run document is not an object", who, path ? path : "");
    return NULL;
  }
  const cJSON *sc = cJSON_GetObjectItemCaseSensitive(run, "scenarios");
  if (!cJSON_IsArray(sc)) {
    ru_err(err, errlen, "%s %s: run document: \"scenarios\" is %s", who, path ? path : "",
           sc ? "not an array" : "missing");
    return NULL;
  }
  return sc;
}

const char *ru_outcome(const cJSON *scenario) {
  static const char *const known[] = {"PASS", "FAIL", "ERROR", "TIMEOUT", "SKIP"};
  const char *o = ru_str(scenario, "outcome");
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcmp(o, known[i]) == 0) return known[i];
  return NULL;
}

int ru_finish(strbuf *b, const char *who, const char *path, char *err, size_t errlen) {
  if (b->oom) {
    ru_err(err, errlen, "%s %s: out of memory", who, path);
    return -1;
  }
  char e[512] = "";
  if (atomic_write_file(path, b->p ? b->p : "", b->len, e, sizeof e) != 0) {
    ru_err(err, errlen, "%s %s", who, e);
    return -1;
  }
  return 0;
}

const cJSON *ru_events(const cJSON *sc, cJSON **owned) {
  *owned = NULL;
  const cJSON *ev = cJSON_GetObjectItemCaseSensitive(sc, "events");
  if (cJSON_IsArray(ev)) return ev;
  const char *file = ru_str(sc, "events_file");
  if (!*file) return NULL;
  FILE *f = fopen(file, "rb");
  if (!f) return NULL;
  strbuf b;
  sb_init(&b);
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) sb_add(&b, chunk, n);
  fclose(f);
  cJSON *arr = b.p && !b.oom ? cJSON_ParseWithLength(b.p, b.len) : NULL;
  sb_free(&b);
  if (!cJSON_IsArray(arr)) {
    cJSON_Delete(arr);
    return NULL;
  }
  *owned = arr;
  return arr;
}

int ru_location(const char *msg, char *file, size_t filelen, long *line) {
  if (!msg || filelen == 0) return 0;
  for (const char *p = strstr(msg, ".lua:"); p; p = strstr(p + 1, ".lua:")) {
    const char *d = p + 5, *e = d;
    while (*e >= '0' && *e <= '9') e++;
    if (e == d || *e != ':' || e - d > 9) continue;
    const char *s = p;
    while (s > msg && !strchr(" \t\n\"'([<", s[-1])) s--;
    if (s == p) continue;
    size_t n = (size_t)(p + 4 - s);
    if (n >= filelen) n = filelen - 1;
    memcpy(file, s, n);
    file[n] = '\0';
    *line = strtol(d, NULL, 10);
    return 1;
  }
  return 0;
}

const cJSON *ru_seed(const cJSON *run, const cJSON *sc) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(sc, "seed");
  return v ? v : cJSON_GetObjectItemCaseSensitive(run, "seed");
}

const cJSON *ru_attempts(const cJSON *sc) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(sc, "attempts");
  return cJSON_IsArray(a) ? a : NULL;
}
