/* runner: one run of the harness (otahil run / otahil list).
 *
 * Loads the lab file, finds and checks the scenarios (errors before running are
 * exit 2), brings up the cloud (broker, firmware server), runs each scenario
 * case (scenario x device of its dialect) on the libuv loop with a deadline,
 * cleans up after each (faults cleared, power cut, processes reaped, images
 * forgotten) whatever the outcome, and rewrites the reports after every case. */
#ifndef OTAHIL_RUNNER_H
#define OTAHIL_RUNNER_H

#include <stdint.h>

#include "select.h"

typedef struct runner_opts {
  char **paths;
  int npaths;
  const char *lab_file;
  const char *report_dir;
  selection sel;          /* --filter, --exclude, --tag, --exclude-tag (select.h) */
  int repeat;             /* --repeat N: every case N times (0 or 1: once) */
  int until_fail;         /* --until-fail: no case starts after the first that did not pass */
  int retries;            /* --retries N: a case that ERRORs runs again, up to N more times */
  int shard_index;        /* --shard I/N: run only the I-th (1-based) of N round-robin parts */
  int shard_count;        /* 0: no sharding */
  const char *broker_url; /* mqtt://host:port or mqtts://host:port, or NULL to spawn mosquitto */
  const char *broker_ca;  /* --broker-ca: the CA (PEM) an mqtts:// broker's certificate must chain to;
                             NULL: the system's CAs */
  uint64_t seed;
  double timeout_multiplier;
  int jobs;
  const char *root;   /* folder holding scenarios/lib */
  char **libs;        /* --lib DIR...: the lab's own library folders (before the lab file's lib) */
  int nlibs;
  const char *bindir; /* folder of the otahil executable ({bindir} in lab files) */
  int verbose;
} runner_opts;

enum { EXIT_PASS = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_INTERNAL = 3 };

int runner_run(const runner_opts *o);

/* Prints one line per scenario found under the paths that the selection may
 * keep: "suite/base  name (dialect, timeout s) [tags]". `libs` (NULL-terminated,
 * may be NULL): --lib folders for the scenarios' require. */
int runner_list(char **paths, int npaths, const char *root, const selection *sel, const char *const *libs);

#endif
