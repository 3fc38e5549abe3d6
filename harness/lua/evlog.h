/* evlog: the event log of one scenario run.
 *
 * Every observable thing (MQTT in/out, HTTP request, fault applied, power change,
 * console line, expectation met or failed) is appended as a cJSON object with a
 * monotonic timestamp "t" (seconds since the log was created) and a "kind".
 * Waits in the Lua API scan the log from their own cursor, so one reader never
 * consumes what another waits for. Reports are made from the log.
 */
#ifndef OTAHIL_EVLOG_H
#define OTAHIL_EVLOG_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

typedef struct evlog evlog;

/* Called after every append; the runtime uses it to re-check pending waits. */
typedef void (*evlog_notify_cb)(void *arg);

evlog *evlog_new(void);
void evlog_free(evlog *log);
void evlog_set_notify(evlog *log, evlog_notify_cb cb, void *arg);

/* Seconds since the log was created (CLOCK_MONOTONIC). */
double evlog_now(const evlog *log);

/* The log is bounded: at most max_events events and about max_bytes of their
 * text (defaults below); strings longer than 64 KiB are cut, a field
 * "<key>_len" keeping their length. Once full, one "log.capped" event says so
 * and later events are counted (evlog_dropped) but not kept: evlog_add then
 * returns a scratch object the log discards. */
#define EVLOG_MAX_EVENTS 100000
#define EVLOG_STRING_MAX (64 * 1024)
#define EVLOG_MAX_BYTES (32u << 20)
void evlog_set_caps(evlog *log, size_t max_events, size_t max_bytes);
uint64_t evlog_dropped(const evlog *log);
/* 1 if `ev` (returned by evlog_add) is in the log, 0 if it is the scratch of a full log. */
int evlog_kept(const evlog *log, const cJSON *ev);

/* Appends a new event of `kind` and returns it so the caller can add fields.
 * The log owns the object. Never returns NULL (aborts on out of memory). */
cJSON *evlog_add(evlog *log, const char *kind);

/* Tells waiters that an event is complete (call after filling its fields). */
void evlog_commit(evlog *log);

size_t evlog_count(const evlog *log);
const cJSON *evlog_get(const evlog *log, size_t index);

/* The array of events (owned by the log), for reports. */
cJSON *evlog_array(evlog *log);

#endif
