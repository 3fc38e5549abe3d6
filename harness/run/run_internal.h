/* run_internal: what the files of harness/run/ share (not an API for others).
 *
 *   runner.c    the run's phases: folders, lab, cloud, signals, summary, teardown
 *   collect.c   scenarios -> cases (dialect, filter, shard, features), the plan
 *   cases.c     a case's life: start, deploy, scenario, deadline, cleanup, finish
 *   case_table.c the `t` table given to a scenario's run(t) (case_table.h: the contract)
 *   run_doc.c   the run document and the reports it is written to (throttled)
 *   run_util.c  clock and folders
 *   list.c      otahil list
 */
#ifndef OTAHIL_RUN_INTERNAL_H
#define OTAHIL_RUN_INTERNAL_H

#include <stdio.h>
#include <time.h>
#include <uv.h>
#include <cjson/cJSON.h>

#include "api.h"
#include "api_net.h"
#include "api_fw.h"
#include "api_serial.h"
#include "broker.h"
#include "case_path.h"
#include "catalogue.h"
#include "device.h"
#include "evlog.h"
#include "fwserver.h"
#include "lab.h"
#include "rt.h"
#include "runner.h"
#include "scenario.h"

#define CLEANUP_TIMEOUT_MS 5000

typedef enum { K_PENDING, K_RUNNING, K_CLEANING, K_DONE } kstate;
typedef enum { O_PASS, O_FAIL, O_ERROR, O_TIMEOUT, O_SKIP } outcome;
extern const char *const outcome_names[];

typedef struct runner runner;

typedef struct kase {
  runner *rn;
  size_t idx;
  scenario sc;
  device *dev;
  char id[512];
  char safe_id[2 * (CASE_PATH_PART_MAX + 1)]; /* "<suite>/<rest>": its files' names (case_path.h) */
  kstate state;
  outcome out;
  char *message;
  evlog *log;
  rt *R;
  netdev *net;
  serialdev *serial; /* the module-MCU line (api_serial.h) */
  api_env env;
  uv_timer_t *timer; /* the deadline, then the cleanup limit */
  double t0, duration;
  struct timespec started; /* wall clock, for report "started" */
  int param;               /* 1-based parameter set of the scenario, or 0 */
  int iteration;           /* --repeat: 1..N */
  size_t id_base;          /* the id's length without the --repeat suffix "#i,seed=S" */
  uint64_t seed;           /* the run's, or the iteration's (--repeat) */
  int attempt;             /* --retries: 0, 1, ... */
  cJSON *attempts;         /* the earlier attempts' entries (report.h "attempts"), or NULL */
  fw_images *imgs;         /* what its t.fw serves (api_fw.h) */
  FILE *live;              /* live.h: the log file as the case runs */
  size_t live_cursor;
  FILE *live_con;          /* live.h: the raw console as it comes */
  uint64_t live_con_done;
  double beat; /* the last heartbeat (not a terminal) */
  char st_download[160], st_fault[96], st_power[32]; /* the status line's parts */
} kase;

struct runner {
  const runner_opts *o;
  uv_loop_t loop;
  lab *lab;
  catalogue *cat; /* the names labs and scenarios may use (scenarios/lib/catalogue.lua) */
  device **devices;
  kase *cases;
  size_t ncases;
  broker *broker;
  char mqtt_host[64];
  int mqtt_port;
  int mqtt_tls;   /* --broker mqtts://: the cloud's clients and the MQTT proxies use TLS to it */
  fwserver *fw;
  fw_router *fw_router; /* the server's events to the case of their image (api_fw.h) */
  char fw_base[128];
  cJSON *doc;
  char lib_dir[PATH_MAX];
  char **lab_libs; /* --lib folders, then the lab file's lib: require's after lib_dir (rt_libs.h) */
  int interrupted;       /* the signal that stopped the run, or 0 */
  int summarized;        /* the summary is out: a signal now changes nothing */
  int reports_ready;     /* the report folder exists: a failing start is written there */
  int internal_error;
  int capped; /* cases whose event log filled up */
  uv_timer_t live_timer; /* live.h */
  int tty, cols, status_lines;
  kase *stopped_by; /* the first case that did not pass (--until-fail) */
  char **no_case; /* selected scenarios that made no case (no device of their dialect) */
  int nno_case;
  double t0;
  uv_signal_t sigint, sigterm;
  int signals_on; /* until the very end: a signal during teardown must not kill otahil */
  /* Reports are rewritten whole after each case, but at most once per
   * max(1 s, 20 x the last rewrite's cost): rewriting every case's events after
   * each of hundreds of cases would cost O(n^2) and keep a core busy. */
  uv_timer_t report_timer;
  double last_write, write_cost;
  int reports_dirty;
  /* what scenarios may read (api_env.files, work_dir) */
  char **files;
  size_t nfiles;
  char work_real[PATH_MAX];
};

/* run_util.c */
double mono(void);
int mkdirs(const char *path);
void rm_rf(const char *path); /* only below the report's work folder */
void free_handle(uv_handle_t *h);

/* cases.c */
void open_modules(rt *R); /* the scenario modules (otahil, json, digest, mqtt), globals locked */
rt *new_rt(runner *rn, evlog *log, char *err, size_t errlen); /* a scenario state */
int load_scenario(rt *R, const char *file, char *err, size_t errlen);
void set_outcome(kase *k, outcome o, const char *msg); /* a running case ends: cleanup */
void run_cases(runner *rn);                           /* until every case is done */

/* With the lab's auth = "platform": the dialect library's login(t, l) decides the logins the
 * MQTT proxy holds (t on top of the stack). Returns 0, or -1 with err (the case is an ERROR). */
int case_auth_wire(kase *k, char *err, size_t errlen);

/* collect.c */
void collect_files(runner *rn, const cJSON *images); /* files scenarios may read */
int plan(runner *rn, char ***files, size_t *nfiles, char *err, size_t errlen);

/* run_doc.c */
cJSON *new_doc(const runner_opts *o);
void add_run_entry(runner *rn, const char *message);
void write_reports(runner *rn);
void reports_changed(runner *rn); /* now, or throttled (see runner) */
void record(kase *k);             /* a done case into the document, its logs written */
void add_pending_entries(runner *rn);
cJSON *pending_entry(const kase *k, const char *why); /* its place until record() */
void write_not_started(runner *rn, const char *why, int code);
int fail_start(runner *rn, int code, const char *msg);

#endif
