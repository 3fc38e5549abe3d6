/* live: a running case's live log, -v stream, status line and heartbeat (live.h). */
#include "live.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"

#define HEARTBEAT_S 30.0

static const char *str(const cJSON *ev, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num(const cJSON *ev, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, key);
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* The case's last meaningful events, one slot each: download, fault, power. */
static void note(kase *k, const cJSON *ev) {
  const char *kind = str(ev, "kind");
  if (!kind) return;
  if (strcmp(kind, "http.request") == 0)
    snprintf(k->st_download, sizeof k->st_download, "GET %s%s%s", str(ev, "path") ? str(ev, "path") : "?",
             str(ev, "range") ? " " : "", str(ev, "range") ? str(ev, "range") : "");
  else if (strcmp(kind, "http.progress") == 0 && num(ev, "bytes") >= 0)
    snprintf(k->st_download, sizeof k->st_download, "downloaded %.0f bytes", num(ev, "bytes"));
  else if (strcmp(kind, "fault") == 0 && str(ev, "fault"))
    snprintf(k->st_fault, sizeof k->st_fault, "%s", str(ev, "fault"));
  else if (strcmp(kind, "power") == 0 && str(ev, "state"))
    snprintf(k->st_power, sizeof k->st_power, "power %s", str(ev, "state"));
}

#define LINES_PER_TICK 20000 /* a flooding case costs the loop a bounded time per tick */

/* The case's new events to its live file (and to stdout with -v), at most
 * `max`: from the tick, so a case that logs 100k events in one resumption pays
 * nothing per event (its Lua time is bounded by the watchdog). */
static void flush_events(kase *k, size_t max) {
  size_t n = evlog_count(k->log);
  int wrote = 0;
  for (size_t done = 0; k->live_cursor < n && done < max; k->live_cursor++, done++) {
    const cJSON *ev = evlog_get(k->log, k->live_cursor);
    note(k, ev);
    char *line = report_render_event_line(ev);
    if (!line) continue;
    if (k->live) fputs(line, k->live);
    if (k->rn->o->verbose) {
      if (!wrote) live_hide(k->rn);
      printf("%s | %s", k->id, line);
      wrote = 1;
    }
    free(line);
  }
  if (k->live) fflush(k->live);
  if (wrote) fflush(stdout);
}

static void status_text(const kase *k, char *out, size_t len) {
  int n = snprintf(out, len, "%-7s %s  %.0f s", "RUN", k->id, mono() - k->t0);
  const char *parts[] = {k->st_download, k->st_fault, k->st_power};
  for (int i = 0; i < 3 && n > 0 && (size_t)n < len; i++)
    if (*parts[i]) n += snprintf(out + n, len - (size_t)n, "%s%s", i && n ? " · " : "  ", parts[i]);
}

void live_hide(runner *rn) {
  if (!rn->tty || !rn->status_lines) return;
  printf("\033[%dA\033[J", rn->status_lines); /* up over the status lines, clear to the end */
  rn->status_lines = 0;
}

void live_show(runner *rn) {
  if (!rn->tty) return;
  live_hide(rn);
  char line[512];
  for (size_t i = 0; i < rn->ncases; i++) {
    const kase *k = &rn->cases[i];
    if (k->state != K_RUNNING) continue;
    status_text(k, line, sizeof line);
    printf("%.*s\033[K\n", rn->cols > 1 ? rn->cols - 1 : 79, line);
    rn->status_lines++;
  }
  fflush(stdout);
}

static void on_tick(uv_timer_t *t) {
  runner *rn = t->data;
  for (size_t i = 0; i < rn->ncases; i++) {
    kase *k = &rn->cases[i];
    if (k->log && k->state == K_RUNNING) flush_events(k, LINES_PER_TICK);
    if (k->live_con && k->R) { /* attached: the console so far */
      device_console_append(k->dev, k->live_con, &k->live_con_done);
      fflush(k->live_con);
    }
  }
  if (rn->tty) {
    live_show(rn);
    return;
  }
  char line[512];
  for (size_t i = 0; i < rn->ncases; i++) { /* CI logs: a heartbeat for a long case */
    kase *k = &rn->cases[i];
    if (k->state != K_RUNNING || mono() - k->beat < HEARTBEAT_S) continue;
    k->beat = mono();
    status_text(k, line, sizeof line);
    printf("%s\n", line);
    fflush(stdout);
  }
}

void live_init(runner *rn) {
  const char *term = getenv("TERM");
  rn->tty = isatty(STDOUT_FILENO) && term && strcmp(term, "dumb") != 0;
  rn->cols = 80;
  const char *cols = getenv("COLUMNS");
  long c = cols ? strtol(cols, NULL, 10) : 0;
  if (c > 20 && c < 10000) rn->cols = (int)c;
  uv_timer_init(&rn->loop, &rn->live_timer);
  rn->live_timer.data = rn;
  uv_timer_start(&rn->live_timer, on_tick, 1000, 1000);
  uv_unref((uv_handle_t *)&rn->live_timer); /* it never keeps the loop alive */
}

void live_close(runner *rn) {
  live_hide(rn);
  if (uv_is_active((uv_handle_t *)&rn->live_timer) || rn->live_timer.data)
    uv_close((uv_handle_t *)&rn->live_timer, NULL);
  rn->live_timer.data = NULL;
}

void live_case_start(kase *k) {
  runner *rn = k->rn;
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/logs/%s.log", rn->o->report_dir, k->safe_id);
  k->live = fopen(path, "w");
  if (k->live)
    fprintf(k->live, "# scenario %s (%s)\n# suite %s  device %s  file %s\n# running: events follow as they come\n",
            k->id, k->sc.name, k->sc.suite, device_name(k->dev), k->sc.file);
  snprintf(path, sizeof path, "%s/logs/%s.console", rn->o->report_dir, k->safe_id);
  k->live_con = fopen(path, "wb");
  k->live_con_done = 0;
  k->live_cursor = 0;
  k->beat = mono();
  k->st_download[0] = k->st_fault[0] = k->st_power[0] = 0;
  if (!rn->tty) {
    printf("%-7s %s\n", "START", k->id);
    fflush(stdout);
  } else {
    live_show(rn);
  }
}

void live_case_end(kase *k, const char *outcome_line) {
  size_t left = k->log ? evlog_count(k->log) - k->live_cursor : 0;
  if (k->log) flush_events(k, LINES_PER_TICK); /* the last ones, the outcome event among them */
  if (k->live && left > LINES_PER_TICK)
    fprintf(k->live, "# ... %zu events not shown here: the final log has them all\n", left - LINES_PER_TICK);
  if (k->live_con) { /* save_console replaces it with the whole console next */
    if (k->R) device_console_append(k->dev, k->live_con, &k->live_con_done);
    fclose(k->live_con);
    k->live_con = NULL;
  }
  if (!k->live) return;
  fprintf(k->live, "# %s\n", outcome_line);
  fclose(k->live);
  k->live = NULL;
}
