#include "evlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct evlog {
  cJSON *events;
  const cJSON **index; /* cJSON arrays are linked lists; waits need O(1) access */
  size_t count, cap;
  struct timespec t0;
  evlog_notify_cb notify;
  void *notify_arg;
};

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
  return log;
}

void evlog_free(evlog *log) {
  if (!log) return;
  cJSON_Delete(log->events);
  free(log->index);
  free(log);
}

void evlog_set_notify(evlog *log, evlog_notify_cb cb, void *arg) {
  log->notify = cb;
  log->notify_arg = arg;
}

double evlog_now(const evlog *log) { return since(&log->t0); }

cJSON *evlog_add(evlog *log, const char *kind) {
  if (log->count == log->cap) {
    size_t cap = log->cap ? log->cap * 2 : 256;
    const cJSON **idx = realloc(log->index, cap * sizeof *idx);
    if (!idx) oom();
    log->index = idx;
    log->cap = cap;
  }
  cJSON *ev = cJSON_CreateObject();
  if (!ev) oom();
  /* Microsecond resolution is enough and keeps the JSON short. */
  double t = since(&log->t0);
  cJSON_AddNumberToObject(ev, "t", (double)(long long)(t * 1e6) / 1e6);
  cJSON_AddStringToObject(ev, "kind", kind);
  cJSON_AddItemToArray(log->events, ev);
  log->index[log->count++] = ev;
  return ev;
}

void evlog_commit(evlog *log) {
  if (log->notify) log->notify(log->notify_arg);
}

size_t evlog_count(const evlog *log) { return log->count; }

const cJSON *evlog_get(const evlog *log, size_t index) {
  return index < log->count ? log->index[index] : NULL;
}

cJSON *evlog_array(evlog *log) { return log->events; }
