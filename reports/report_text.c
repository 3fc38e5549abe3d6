/* report_text: the per-scenario readable log. */
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "report_util.h"

static void rt__header(strbuf *b, const cJSON *sc) {
  sb_puts(b, "# scenario ");
  sb_line(b, ru_str(sc, "id"));
  const char *name = ru_str(sc, "name");
  if (*name) {
    sb_puts(b, " (");
    sb_line(b, name);
    sb_puts(b, ")");
  }
  sb_puts(b, "\n# suite ");
  sb_line(b, ru_str(sc, "suite"));
  sb_puts(b, "  device ");
  sb_line(b, ru_str(sc, "device"));
  sb_puts(b, "  file ");
  sb_line(b, ru_str(sc, "file"));
  sb_puts(b, "\n");
  int n = 0;
  const cJSON *a;
  cJSON_ArrayForEach(a, ru_attempts(sc)) {
    sb_printf(b, "# attempt %d ", ++n);
    sb_line(b, ru_str(a, "outcome"));
    sb_printf(b, " after %.3f s", ru_num(a, "duration", 0));
    if (*ru_str(a, "started")) {
      sb_puts(b, " (started ");
      sb_line(b, ru_str(a, "started"));
      sb_puts(b, ")");
    }
    if (*ru_str(a, "message")) {
      sb_puts(b, ": ");
      sb_line(b, ru_str(a, "message"));
    }
    if (*ru_str(a, "log")) {
      sb_puts(b, "; log ");
      sb_line(b, ru_str(a, "log"));
    }
    sb_puts(b, "\n");
  }
  sb_puts(b, n ? "# final attempt: " : "# ");
  sb_puts(b, "outcome ");
  sb_line(b, ru_str(sc, "outcome"));
  sb_printf(b, " after %.3f s", ru_num(sc, "duration", 0));
  const char *msg = ru_str(sc, "message");
  if (*msg) {
    sb_puts(b, ": ");
    sb_line(b, msg);
  }
  sb_puts(b, "\n");
}

static void rt__event(strbuf *b, const cJSON *ev) {
  sb_printf(b, "%8.3f ", ru_num(ev, "t", 0));
  size_t before = b->len;
  sb_line(b, cJSON_IsObject(ev) ? ru_str(ev, "kind") : "?");
  for (size_t w = b->len - before; w < 9; w++) sb_puts(b, " ");
  const char *topic = ru_str(ev, "topic");
  if (*topic) {
    sb_puts(b, " ");
    sb_line(b, topic);
  }
  if (cJSON_IsObject(ev)) {
    for (const cJSON *f = ev->child; f; f = f->next) {
      const char *k = f->string ? f->string : "";
      if (!strcmp(k, "t") || !strcmp(k, "kind") || !strcmp(k, "topic") ||
          !strcmp(k, "payload"))
        continue;
      sb_puts(b, " ");
      sb_line(b, k);
      sb_puts(b, "=");
      ru_value_line(b, f);
    }
  } else { /* not an object: show what it is rather than drop it */
    sb_puts(b, " ");
    ru_value_line(b, ev);
  }
  const cJSON *payload = cJSON_GetObjectItemCaseSensitive(ev, "payload");
  if (payload) {
    sb_puts(b, " ");
    ru_value_line(b, payload);
  }
  sb_puts(b, "\n");
}

char *report_render_event_line(const cJSON *ev) {
  strbuf b;
  sb_init(&b);
  sb_add(&b, "", 0);
  rt__event(&b, ev);
  if (b.oom) {
    sb_free(&b);
    return NULL;
  }
  return b.p;
}

char *report_render_text_log(const cJSON *scenario) {
  strbuf b;
  sb_init(&b);
  sb_add(&b, "", 0);
  rt__header(&b, scenario);
  cJSON *owned;
  const cJSON *events = ru_events(scenario, &owned);
  if (cJSON_IsArray(events)) {
    const cJSON *ev;
    cJSON_ArrayForEach(ev, events) rt__event(&b, ev);
  }
  cJSON_Delete(owned);
  if (b.oom) {
    sb_free(&b);
    return NULL;
  }
  return b.p;
}

int report_write_text_log(const cJSON *scenario, const char *path, char *err, size_t errlen) {
  if (!path || !cJSON_IsObject(scenario)) {
    ru_err(err, errlen, "report_write_text_log %s: no path or scenario is not an object",
           path ? path : "");
    return -1;
  }
  strbuf b;
  sb_init(&b);
  b.p = report_render_text_log(scenario);
  if (!b.p) {
    ru_err(err, errlen, "report_write_text_log %s: out of memory", path);
    return -1;
  }
  b.len = strlen(b.p);
  b.cap = b.len + 1;
  int rc = ru_finish(&b, "report_write_text_log", path, err, errlen);
  free(b.p);
  return rc;
}
