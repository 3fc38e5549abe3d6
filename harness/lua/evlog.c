#include "evlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct evlog {
  cJSON *events;
  const cJSON **index; /* cJSON arrays are linked lists; waits need O(1) access */
  size_t count, cap;
  struct timespec t0;
  evlog_notify_cb notify;
  void *notify_arg;
  /* bounds: past max_events or max_bytes an event is not kept (see evlog.h) */
  size_t max_events, max_bytes, bytes;
  uint64_t dropped, cut;
  cJSON *last;    /* the newest kept event, not measured yet */
  cJSON *scratch; /* what evlog_add returns once the log is full */
};

/* Strings longer than this are cut in the log (with their length noted). */
#define EV_STRING_MAX EVLOG_STRING_MAX

static double since(const struct timespec *t0) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void oom(void) {
  fputs("otahil: out of memory in the event log\n", stderr);
  abort();
}

evlog *evlog_new(void) {
  evlog *log = calloc(1, sizeof *log);
  if (!log) oom();
  log->events = cJSON_CreateArray();
  if (!log->events) oom();
  clock_gettime(CLOCK_MONOTONIC, &log->t0);
  log->max_events = EVLOG_MAX_EVENTS;
  log->max_bytes = EVLOG_MAX_BYTES;
  return log;
}

void evlog_set_caps(evlog *log, size_t max_events, size_t max_bytes) {
  log->max_events = max_events;
  log->max_bytes = max_bytes;
}

uint64_t evlog_dropped(const evlog *log) { return log->dropped; }
int evlog_kept(const evlog *log, const cJSON *ev) { return ev && ev != log->scratch; }

/* Adds the size of `ev` to the log's bytes, cutting strings over EV_STRING_MAX
 * (a field "<key>_len" keeps the length it had). */
static void measure(evlog *log, cJSON *ev) {
  size_t n = 16;
  cJSON *f = ev->child;
  while (f) {
    cJSON *next = f->next;
    n += (f->string ? strlen(f->string) : 0) + 8;
    if (cJSON_IsString(f) && f->valuestring) {
      size_t len = strlen(f->valuestring);
      if (len > EV_STRING_MAX && f->string) {
        char key[128];
        snprintf(key, sizeof key, "%.100s_len", f->string);
        /* a new item: cJSON_SetValuestring keeps the big buffer of a shorter string */
        char *cut = malloc(EV_STRING_MAX + 1);
        if (!cut) oom();
        memcpy(cut, f->valuestring, EV_STRING_MAX);
        cut[EV_STRING_MAX] = 0;
        cJSON *short_item = cJSON_CreateString(cut);
        free(cut);
        if (!short_item) oom();
        cJSON_ReplaceItemViaPointer(ev, f, short_item);
        if (!cJSON_GetObjectItemCaseSensitive(ev, key)) cJSON_AddNumberToObject(ev, key, (double)len);
        log->cut++;
        len = EV_STRING_MAX;
      }
      n += len;
    } else if (f->child) {
      char *t = cJSON_PrintUnformatted(f); /* nested values are rare and small */
      if (t) {
        n += strlen(t);
        free(t);
      }
    }
    f = next;
  }
  log->bytes += n;
}

static int full(const evlog *log) { return log->count >= log->max_events || log->bytes >= log->max_bytes; }

void evlog_free(evlog *log) {
  if (!log) return;
  cJSON_Delete(log->scratch);
  cJSON_Delete(log->events);
  free(log->index);
  free(log);
}

void evlog_set_notify(evlog *log, evlog_notify_cb cb, void *arg) {
  log->notify = cb;
  log->notify_arg = arg;
}

double evlog_now(const evlog *log) { return since(&log->t0); }

static cJSON *new_event(evlog *log, const char *kind) {
  cJSON *ev = cJSON_CreateObject();
  if (!ev) oom();
  /* Microsecond resolution is enough and keeps the JSON short. */
  double t = since(&log->t0);
  cJSON_AddNumberToObject(ev, "t", (double)(long long)(t * 1e6) / 1e6);
  cJSON_AddStringToObject(ev, "kind", kind);
  return ev;
}

static void keep(evlog *log, cJSON *ev);

cJSON *evlog_add(evlog *log, const char *kind) {
  if (log->last) measure(log, log->last);
  log->last = NULL;
  cJSON_Delete(log->scratch);
  log->scratch = NULL;
  if (full(log)) {
    if (log->dropped++ == 0) { /* said once, and kept whatever the bounds */
      cJSON *capped = new_event(log, "log.capped");
      cJSON_AddNumberToObject(capped, "events", (double)log->count);
      cJSON_AddNumberToObject(capped, "bytes", (double)log->bytes);
      cJSON_AddStringToObject(capped, "why", "the case's event log is full: later events are counted, not kept");
      keep(log, capped);
    }
    log->scratch = new_event(log, kind);
    return log->scratch;
  }
  cJSON *ev = new_event(log, kind);
  keep(log, ev);
  log->last = ev;
  return ev;
}

static void keep(evlog *log, cJSON *ev) {
  if (log->count == log->cap) {
    size_t cap = log->cap ? log->cap * 2 : 256;
    const cJSON **idx = realloc(log->index, cap * sizeof *idx);
    if (!idx) oom();
    log->index = idx;
    log->cap = cap;
  }
  cJSON_AddItemToArray(log->events, ev);
  log->index[log->count++] = ev;
}

void evlog_commit(evlog *log) {
  if (log->scratch) return; /* not kept: nothing for the waits */
  if (log->last) measure(log, log->last);
  log->last = NULL;
  if (log->notify) log->notify(log->notify_arg);
}

size_t evlog_count(const evlog *log) { return log->count; }

const cJSON *evlog_get(const evlog *log, size_t index) {
  return index < log->count ? log->index[index] : NULL;
}

cJSON *evlog_array(evlog *log) { return log->events; }
