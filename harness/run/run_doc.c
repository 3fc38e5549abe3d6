/* run_doc: the run document (report.h) and the reports written from it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "live.h"
#include "report.h"
#include "run_internal.h"

const char *const outcome_names[] = {"PASS", "FAIL", "ERROR", "TIMEOUT", "SKIP"};

void write_reports(runner *rn) {
  char path[PATH_MAX], err[PATH_MAX + 200];
  double t = mono();
  rn->reports_dirty = 0;
  uv_timer_stop(&rn->report_timer);
  cJSON *sum = cJSON_GetObjectItemCaseSensitive(rn->doc, "summary");
  int counts[5] = {0};
  cJSON *arr = cJSON_GetObjectItemCaseSensitive(rn->doc, "scenarios");
  cJSON *s;
  cJSON_ArrayForEach(s, arr) {
    const char *o = cJSON_GetObjectItemCaseSensitive(s, "outcome")->valuestring;
    for (int i = 0; i < 5; i++)
      if (strcmp(o, outcome_names[i]) == 0) counts[i]++;
  }
  static const char *const keys[] = {"pass", "fail", "error", "timeout", "skip"};
  cJSON_ReplaceItemInObject(sum, "total", cJSON_CreateNumber(cJSON_GetArraySize(arr)));
  for (int i = 0; i < 5; i++) cJSON_ReplaceItemInObject(sum, keys[i], cJSON_CreateNumber(counts[i]));
  cJSON_ReplaceItemInObject(rn->doc, "duration", cJSON_CreateNumber(mono() - rn->t0));
  snprintf(path, sizeof path, "%s/report.json", rn->o->report_dir);
  if (report_write_json(rn->doc, path, err, sizeof err) != 0) {
    fprintf(stderr, "otahil: %s\n", err);
    rn->internal_error = 1;
  }
  snprintf(path, sizeof path, "%s/junit.xml", rn->o->report_dir);
  if (report_write_junit(rn->doc, path, err, sizeof err) != 0) {
    fprintf(stderr, "otahil: %s\n", err);
    rn->internal_error = 1;
  }
  snprintf(path, sizeof path, "%s/report.html", rn->o->report_dir);
  if (report_write_html(rn->doc, path, err, sizeof err) != 0) {
    fprintf(stderr, "otahil: %s\n", err);
    rn->internal_error = 1;
  }
  rn->last_write = mono();
  rn->write_cost = rn->last_write - t;
}

static void on_report_timer(uv_timer_t *t) {
  runner *rn = t->data;
  if (rn->reports_dirty) write_reports(rn);
}

/* The run document changed: rewrite the reports now, or soon (see runner). */
void reports_changed(runner *rn) {
  double gap = rn->write_cost * 20 > 1.0 ? rn->write_cost * 20 : 1.0;
  double wait = rn->last_write + gap - mono();
  if (wait <= 0) {
    write_reports(rn);
    return;
  }
  if (!rn->reports_dirty) uv_timer_start(&rn->report_timer, on_report_timer, (uint64_t)(wait * 1000) + 1, 0);
  rn->reports_dirty = 1;
}

static cJSON *case_entry(const kase *k, const char *outcome, const char *message) {
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "id", k->id);
  cJSON_AddStringToObject(c, "name", k->sc.name);
  cJSON_AddStringToObject(c, "file", k->sc.file);
  cJSON_AddStringToObject(c, "suite", k->sc.suite);
  cJSON_AddStringToObject(c, "device", device_name(k->dev));
  cJSON_AddStringToObject(c, "outcome", outcome);
  if (message) cJSON_AddStringToObject(c, "message", message);
  return c;
}

/* Every case has its place in the document from the start, as an ERROR marked pending
   until record() puts its outcome there: reports written while the run goes on, and
   those a killed otahil leaves behind, never read as passing. */
cJSON *pending_entry(const kase *k, const char *why) {
  cJSON *c = case_entry(k, "ERROR", why);
  cJSON_AddTrueToObject(c, "pending");
  cJSON_AddNumberToObject(c, "duration", 0);
  return c;
}

void add_pending_entries(runner *rn) {
  cJSON *arr = cJSON_GetObjectItemCaseSensitive(rn->doc, "scenarios");
  for (size_t i = 0; i < rn->ncases; i++)
    cJSON_AddItemToArray(arr, pending_entry(&rn->cases[i], "not finished: this report was written while the run "
                                                           "went on (if it stays so, otahil was killed)"));
}

/* "started": ISO 8601 UTC with milliseconds, for a case that ran. */
static void add_started(cJSON *c, const struct timespec *ts) {
  if (!ts->tv_sec) return;
  struct tm tm;
  char when[40], out[64];
  gmtime_r(&ts->tv_sec, &tm);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, sizeof out, "%s.%03dZ", when, (int)(ts->tv_nsec / 1000000) % 1000);
  cJSON_AddStringToObject(c, "started", out);
}

/* The events of a case as one JSON file, atomically. */
static int write_events(const cJSON *events, const char *path, char *err, size_t errlen) {
  char *text = cJSON_PrintUnformatted(events);
  if (!text) {
    snprintf(err, errlen, "%.300s: out of memory", path);
    return -1;
  }
  int rc = atomic_write_file(path, text, strlen(text), err, errlen);
  cJSON_free(text);
  return rc;
}

void record(kase *k) {
  runner *rn = k->rn;
  cJSON *c = case_entry(k, outcome_names[k->out], k->message);
  cJSON_AddNumberToObject(c, "duration", k->duration);
  add_started(c, &k->started);
  cJSON_AddNumberToObject(c, "seed", (double)k->seed);
  if (k->attempts) { /* --retries: the earlier attempts; a pass after them is flaky */
    cJSON_AddItemToObject(c, "attempts", cJSON_Duplicate(k->attempts, 1));
    if (k->out == O_PASS) cJSON_AddTrueToObject(c, "flaky");
  }
  char logpath[PATH_MAX], err[512];
  snprintf(logpath, sizeof logpath, "%s/logs/%s.log", rn->o->report_dir, k->safe_id);
  cJSON_AddStringToObject(c, "log", logpath);
  char conpath[PATH_MAX]; /* the raw console, saved by case_finish */
  snprintf(conpath, sizeof conpath, "%s/logs/%s.console", rn->o->report_dir, k->safe_id);
  if (k->log && access(conpath, F_OK) == 0) cJSON_AddStringToObject(c, "console", conpath);
  if (k->log) {
    /* the events go to their own file, and leave memory with the case: the
     * writers read them back one case at a time (report.h, "events_file") */
    char evpath[PATH_MAX];
    snprintf(evpath, sizeof evpath, "%s/logs/%s.events.json", rn->o->report_dir, k->safe_id);
    cJSON *events = evlog_array(k->log);
    cJSON_AddItemReferenceToObject(c, "events", events);
    if (report_write_text_log(c, logpath, err, sizeof err) != 0 || write_events(events, evpath, err, sizeof err) != 0) {
      fprintf(stderr, "otahil: %s\n", err);
      rn->internal_error = 1;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(c, "events");
    cJSON_AddStringToObject(c, "events_file", evpath);
    if (evlog_dropped(k->log)) {
      cJSON_AddNumberToObject(c, "events_dropped", (double)evlog_dropped(k->log));
      rn->capped++;
    }
  } else {
    cJSON_AddArrayToObject(c, "events");
  }
  cJSON_ReplaceItemInArray(cJSON_GetObjectItemCaseSensitive(rn->doc, "scenarios"), (int)k->idx, c);
  live_hide(rn);
  printf("%-7s %s (%.2f s)%s%s\n", outcome_names[k->out], k->id, k->duration,
         k->message ? "\n        " : "", k->message ? k->message : "");
  if (k->log && evlog_dropped(k->log))
    printf("        event log full: %llu later events counted, not kept\n", (unsigned long long)evlog_dropped(k->log));
  if (k->out != O_PASS && k->out != O_SKIP) printf("        log: %s\n", logpath);
  fflush(stdout);
  live_show(rn);
}

/* The run document's head: tool, seed, started, lab, a zero summary. */
cJSON *new_doc(const runner_opts *o) {
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "tool", "otahil");
  cJSON_AddStringToObject(doc, "version", OTAHIL_VERSION);
  cJSON_AddNumberToObject(doc, "seed", (double)o->seed);
  char started[64];
  time_t now = time(NULL);
  strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  cJSON_AddStringToObject(doc, "started", started);
  cJSON_AddNumberToObject(doc, "duration", 0);
  cJSON_AddStringToObject(doc, "lab", o->lab_file ? o->lab_file : "");
  cJSON *sum = cJSON_AddObjectToObject(doc, "summary");
  static const char *const keys[] = {"total", "pass", "fail", "error", "timeout", "skip"};
  for (int i = 0; i < 6; i++) cJSON_AddNumberToObject(sum, keys[i], 0);
  cJSON_AddFalseToObject(doc, "complete"); /* true in the last write, when every case is in */
  cJSON_AddArrayToObject(doc, "scenarios");
  return doc;
}

/* An entry that is not a case: the run itself (it did not start, or was
 * interrupted), an ERROR in every report, so that none reads as passing. */
void add_run_entry(runner *rn, const char *message) {
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "id", "otahil/run");
  cJSON_AddStringToObject(c, "name", "the run");
  cJSON_AddStringToObject(c, "suite", "otahil");
  cJSON_AddStringToObject(c, "outcome", "ERROR");
  cJSON_AddStringToObject(c, "message", message);
  cJSON_AddNumberToObject(c, "duration", 0);
  cJSON_AddArrayToObject(c, "events");
  cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(rn->doc, "scenarios"), c);
}

/* Replaces whatever reports a reused --report folder holds, before anything
 * else: a run that stops now (exit 2, a signal, a kill) never leaves an earlier
 * run's green report behind. `why` is what they say (the run is starting, or
 * why it did not start); `code` the exit code it ends with (0: not known yet). */
void write_not_started(runner *rn, const char *why, int code) {
  cJSON_Delete(rn->doc);
  rn->doc = new_doc(rn->o);
  cJSON_AddStringToObject(rn->doc, "not_started", why);
  if (code) cJSON_AddNumberToObject(rn->doc, "exit", code);
  add_run_entry(rn, why);
  write_reports(rn);
}

/* Exit 2 (or 3) before any case ran: say it on stderr and in every report. */
int fail_start(runner *rn, int code, const char *msg) {
  fprintf(stderr, "otahil: %s\n", msg);
  if (rn->reports_ready) {
    char why[2400];
    snprintf(why, sizeof why, "run did not start: %.2300s", msg);
    write_not_started(rn, why, code);
  }
  return code;
}
