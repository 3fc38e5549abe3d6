/* report_util: reading the run document leniently, shared by the writers.
 * Internal to reports/. Returned strings point into the document. */
#ifndef OTAHIL_REPORT_UTIL_H
#define OTAHIL_REPORT_UTIL_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "strbuf.h"

/* The string at `key`, or "" if missing or not a string. */
const char *ru_str(const cJSON *o, const char *key);

/* The number at `key` if present and finite, else `dflt`. */
double ru_num(const cJSON *o, const char *key, double dflt);

/* 1 and *out if `key` holds a finite number, else 0. */
int ru_has_num(const cJSON *o, const char *key, double *out);

/* Appends a number readably: integers without decimals, others with %g. */
void ru_num_text(strbuf *b, double v);

/* Appends any JSON value as one-line text (strings raw, others as compact JSON),
 * escaped with sb_line. */
void ru_value_line(strbuf *b, const cJSON *v);

/* Checks that `run` is an object whose "scenarios" is an array; returns it, or
 * NULL with err "<who> <path>: ...". */
const cJSON *ru_scenarios(const cJSON *run, const char *who, const char *path, char *err,
                          size_t errlen);

/* A scenario's events: its "events" array, or else the array read from the
 * file its "events_file" names (then *owned is set and the caller frees it
 * with cJSON_Delete), or NULL when it has neither (or the file is unreadable). */
const cJSON *ru_events(const cJSON *scenario, cJSON **owned);

/* Normalised outcome: "PASS", "FAIL", "ERROR", "TIMEOUT", "SKIP", or NULL if the
 * document says something else. */
const char *ru_outcome(const cJSON *scenario);

/* The first "file.lua:LINE:" in `msg` (a Lua error location, as in
 * "scenarios/qcloud/03_x.lua:42: expected ..."): 1 with the file copied into
 * `file` (cut to filelen) and *line set, else 0. */
int ru_location(const char *msg, char *file, size_t filelen, long *line);

/* The seed a case reproduces with: its own "seed" if it has one, else the run's
 * (NULL if neither). */
const cJSON *ru_seed(const cJSON *run, const cJSON *scenario);

/* A scenario's earlier attempts ("attempts": an array, see report.h), or NULL
 * (which cJSON_ArrayForEach takes as empty). */
const cJSON *ru_attempts(const cJSON *scenario);

void ru_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes b to path atomically; reports out of memory first. Frees nothing. */
int ru_finish(strbuf *b, const char *who, const char *path, char *err, size_t errlen);

#endif
