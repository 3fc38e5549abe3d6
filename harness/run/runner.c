#include "runner.h"

#include <errno.h>
#include <fnmatch.h>
#include <ftw.h>
#include <lauxlib.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "api_fw.h"
#include "api_net.h"
#include "api_serial.h"
#include "atomic_file.h"
#include "broker.h"
#include "case_path.h"
#include "catalogue.h"
#include "device.h"
#include "fwserver.h"
#include "lab.h"
#include "report.h"
#include "rt.h"
#include "scenario.h"
#include "signals.h"

#define CLEANUP_TIMEOUT_MS 5000

typedef enum { K_PENDING, K_RUNNING, K_CLEANING, K_DONE } kstate;
typedef enum { O_PASS, O_FAIL, O_ERROR, O_TIMEOUT, O_SKIP } outcome;
static const char *const outcome_names[] = {"PASS", "FAIL", "ERROR", "TIMEOUT", "SKIP"};

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
  fwserver *fw;
  char fw_base[128];
  cJSON *doc;
  char lib_dir[PATH_MAX];
  int interrupted;       /* the signal that stopped the run, or 0 */
  int summarized;        /* the summary is out: a signal now changes nothing */
  int reports_ready;     /* the report folder exists: a failing start is written there */
  int internal_error;
  int capped; /* cases whose event log filled up */
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

/* Every existing file named under a device's `images`, resolved. */
static void collect_files(runner *rn, const cJSON *j) {
  if (cJSON_IsString(j)) {
    char real[PATH_MAX];
    struct stat st;
    if (!realpath(j->valuestring, real) || stat(real, &st) != 0 || !S_ISREG(st.st_mode)) return;
    char **grown = realloc(rn->files, (rn->nfiles + 2) * sizeof *grown);
    if (!grown) abort();
    rn->files = grown;
    rn->files[rn->nfiles++] = strdup(real);
    rn->files[rn->nfiles] = NULL;
    return;
  }
  for (const cJSON *c = j ? j->child : NULL; c; c = c->next) collect_files(rn, c);
}

static double mono(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int mkdirs(const char *path) {
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)ftw;
  return (flag == FTW_DP ? rmdir(path) : unlink(path)) == 0 || errno == ENOENT ? 0 : -1;
}

/* In-process (nftw, depth first): a fork of this big process at every case
 * start stalled the loop for every other running case. */
static void rm_rf(const char *path) {
  /* only ever below the report's work folder, which otahil made itself */
  if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
    fprintf(stderr, "otahil: cannot remove %s: %s\n", path, strerror(errno));
}

static void free_handle(uv_handle_t *h) { free(h); }

/* ---- building a scenario state ------------------------------------------ */

static void open_modules(rt *R) {
  lua_State *L = rt_lua(R);
  static const struct {
    const char *name;
    lua_CFunction fn;
  } mods[] = {{"otahil", api_open_core}, {"json", api_open_json}, {"digest", api_open_digest},
              {"mqtt", api_open_mqtt}};
  for (size_t i = 0; i < sizeof mods / sizeof *mods; i++) {
    lua_pushcfunction(L, mods[i].fn);
    lua_call(L, 0, 1);
    lua_setglobal(L, mods[i].name);
  }
  rt_lock_globals(R);
}

/* Loads the scenario file into R and leaves its declaration table on the stack. */
static int load_scenario(rt *R, const char *file, char *err, size_t errlen) {
  lua_State *L = rt_lua(R);
  if (rt_load_file(R, file, err, errlen) != 0) return -1;
  if (rt_pcall(R, 0, 1, err, errlen) != 0) {
    lua_settop(L, 0);
    return -1;
  }
  return 0;
}

static rt *new_rt(runner *rn, evlog *log, char *err, size_t errlen) {
  rt_config cfg = {0};
  cfg.loop = &rn->loop;
  cfg.log = log;
  cfg.lib_dir = rn->lib_dir;
  cfg.timeout_multiplier = rn->o->timeout_multiplier;
  rt *R = rt_new(&cfg, err, errlen);
  if (R) open_modules(R);
  return R;
}

/* ---- reports ------------------------------------------------------------- */

static void write_reports(runner *rn) {
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
static void reports_changed(runner *rn) {
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
static void add_pending_entries(runner *rn) {
  cJSON *arr = cJSON_GetObjectItemCaseSensitive(rn->doc, "scenarios");
  for (size_t i = 0; i < rn->ncases; i++) {
    cJSON *c = case_entry(&rn->cases[i], "ERROR",
                          "not finished: this report was written while the run went on (if it stays so, "
                          "otahil was killed)");
    cJSON_AddTrueToObject(c, "pending");
    cJSON_AddNumberToObject(c, "duration", 0);
    cJSON_AddItemToArray(arr, c);
  }
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

static void record(kase *k) {
  runner *rn = k->rn;
  cJSON *c = case_entry(k, outcome_names[k->out], k->message);
  cJSON_AddNumberToObject(c, "duration", k->duration);
  add_started(c, &k->started);
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
  printf("%-7s %s (%.2f s)%s%s\n", outcome_names[k->out], k->id, k->duration,
         k->message ? "\n        " : "", k->message ? k->message : "");
  if (k->log && evlog_dropped(k->log))
    printf("        event log full: %llu later events counted, not kept\n", (unsigned long long)evlog_dropped(k->log));
  if (k->out != O_PASS && k->out != O_SKIP) printf("        log: %s\n", logpath);
  fflush(stdout);
}

/* ---- a case's life ------------------------------------------------------- */

static void case_cleanup(kase *k);
static void case_finish(kase *k);

/* A case's message is one line for people: a scenario's 10 MB error text is
 * cut here (the case's log keeps the whole). */
#define MESSAGE_MAX 4096

static void set_outcome(kase *k, outcome o, const char *msg) {
  if (k->state != K_RUNNING) return;
  k->out = o;
  free(k->message);
  k->message = NULL;
  if (msg) {
    size_t n = strlen(msg);
    k->message = malloc((n > MESSAGE_MAX ? MESSAGE_MAX + 64 : n) + 1);
    if (!k->message) abort();
    if (n > MESSAGE_MAX) snprintf(k->message, MESSAGE_MAX + 64, "%.*s... (%zu bytes in all)", MESSAGE_MAX, msg, n);
    else memcpy(k->message, msg, n + 1);
  }
  k->duration = mono() - k->t0;
  if (k->log) {
    cJSON *ev = evlog_add(k->log, "outcome");
    cJSON_AddStringToObject(ev, "outcome", outcome_names[o]);
    if (msg) cJSON_AddStringToObject(ev, "message", msg);
  }
  case_cleanup(k);
}

static void on_done(void *arg, rt_status st, const char *msg) {
  kase *k = arg;
  set_outcome(k, st == RT_PASS ? O_PASS : st == RT_FAIL ? O_FAIL : O_ERROR, msg);
}

static void on_deadline(uv_timer_t *t) {
  kase *k = t->data;
  char msg[256];
  snprintf(msg, sizeof msg, "deadline of %.1f s exceeded",
           k->sc.timeout * k->rn->o->timeout_multiplier);
  set_outcome(k, O_TIMEOUT, msg);
}

static void on_cleanup_limit(uv_timer_t *t) {
  kase *k = t->data;
  fprintf(stderr, "otahil: %s: device '%s' was not reaped within %d ms\n", k->id,
          device_name(k->dev), CLEANUP_TIMEOUT_MS);
  k->rn->internal_error = 1;
  case_finish(k);
}

/* Cleanup runs whatever the outcome: no task resumes, power is cut, and the
 * case is done once the device's process is reaped (checked by the run loop). */
static void case_cleanup(kase *k) {
  k->state = K_CLEANING;
  if (k->R) rt_abort(k->R);
  /* faults end with the case, whatever its outcome */
  netdev_close(k->net);
  k->net = NULL;
  serialdev_close(k->serial);
  k->serial = NULL;
  device_power_cut(k->dev);
  uv_timer_stop(k->timer);
  uv_update_time(&k->rn->loop); /* the loop may have been held (a runaway): count from now */
  uv_timer_start(k->timer, on_cleanup_limit, CLEANUP_TIMEOUT_MS + device_cleanup_ms(k->dev), 0);
}

/* The device's raw console of the case, next to its log (logs/<id>.console). */
static void save_console(kase *k) {
  char path[PATH_MAX], err[600];
  snprintf(path, sizeof path, "%s/logs/%s.console", k->rn->o->report_dir, k->safe_id);
  if (device_save_console(k->dev, path, err, sizeof err) != 0) {
    fprintf(stderr, "otahil: %s\n", err);
    k->rn->internal_error = 1;
  }
}

static void case_finish(kase *k) {
  runner *rn = k->rn;
  /* forget the images this case served */
  for (size_t i = 0; k->log && i < evlog_count(k->log); i++) {
    const cJSON *ev = evlog_get(k->log, i);
    if (strcmp(cJSON_GetObjectItemCaseSensitive(ev, "kind")->valuestring, "fw.serve") == 0)
      fwserver_remove(rn->fw, cJSON_GetObjectItemCaseSensitive(ev, "name")->valuestring);
  }
  if (k->R) save_console(k); /* it was attached and ran */
  if (k->R) rt_free(k->R);
  k->R = NULL;
  device_detach(k->dev);
  uv_close((uv_handle_t *)k->timer, free_handle);
  k->timer = NULL;
  record(k);
  evlog_free(k->log); /* before the reports read its events back from their file */
  k->log = NULL;
  k->state = K_DONE;
  reports_changed(k->rn);
}

static void push_t(kase *k) {
  runner *rn = k->rn;
  lua_State *L = rt_lua(k->R);
  lua_newtable(L);
  device_push(L, k->dev);
  lua_setfield(L, -2, "device");
  char prefix[32];
  snprintf(prefix, sizeof prefix, "c%zu", k->idx);
  char base[128];
  /* firmware URLs point at the HTTP proxy, as the device reaches it */
  const cJSON *netspec = cJSON_GetObjectItemCaseSensitive(device_lab(k->dev)->spec, "network");
  const char *host = cJSON_GetObjectItemCaseSensitive(netspec, "host")->valuestring;
  int v6 = strchr(host, ':') != NULL;
  /* on the default port the URL names none: vendor HTTP clients often parse no host:port */
  char port[16] = "";
  if (netdev_http_port(k->net) != 80) snprintf(port, sizeof port, ":%d", netdev_http_port(k->net));
  snprintf(base, sizeof base, "http://%s%s%s%s", v6 ? "[" : "", host, v6 ? "]" : "", port);
  api_fw_push(L, rn->fw, k->log, prefix, base);
  lua_setfield(L, -2, "fw");
  netdev_push(L, k->net);
  lua_setfield(L, -2, "net");
  serialdev_push(L, k->serial);
  lua_setfield(L, -2, "serial");
  lua_pushstring(L, k->id);
  lua_setfield(L, -2, "id");
  lua_pushstring(L, k->sc.name);
  lua_setfield(L, -2, "name");
  lua_pushinteger(L, (lua_Integer)rn->o->seed);
  lua_setfield(L, -2, "seed");
  lua_pushnumber(L, rn->o->timeout_multiplier);
  lua_setfield(L, -2, "timeout_multiplier");
  /* the otahil module's functions, as t.expect, t.fail, t.sleep, ... */
  lua_getglobal(L, "otahil");
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_settable(L, -5);
  }
  lua_pop(L, 1);
}

static void case_begin(kase *k);

static void on_deployed(void *arg, int rc, const char *msg) {
  kase *k = arg;
  if (k->state != K_RUNNING) return; /* stopped meanwhile (Ctrl-C) */
  if (rc != 0) set_outcome(k, O_ERROR, msg);
  else case_begin(k);
}

static void case_start(kase *k) {
  runner *rn = k->rn;
  char err[1024];
  k->state = K_RUNNING;
  k->t0 = mono();
  clock_gettime(CLOCK_REALTIME, &k->started);
  k->log = evlog_new();
  k->timer = malloc(sizeof *k->timer);
  if (!k->timer) abort();
  uv_timer_init(&rn->loop, k->timer);
  k->timer->data = k;

  char state_dir[PATH_MAX], port[16], bin[PATH_MAX], http_port[16], broker_port[16], fw_port[16];
  snprintf(state_dir, sizeof state_dir, "%s/work/%s/state", rn->o->report_dir, k->safe_id);
  rm_rf(state_dir);
  mkdirs(state_dir);
  char logdir[PATH_MAX]; /* logs/<suite>/ */
  snprintf(logdir, sizeof logdir, "%s/logs/%s", rn->o->report_dir, k->safe_id);
  *strrchr(logdir, '/') = 0;
  mkdirs(logdir);
  /* the device reaches the cloud through this case's fault proxies; the seed
   * depends on the case id only, so a case replays alone exactly */
  uint64_t seed = rn->o->seed;
  for (const char *c = k->id; *c; c++) seed = (seed ^ (unsigned char)*c) * 0x100000001b3ULL;
  const lab_device *ld = device_lab(k->dev);
  const cJSON *netspec = cJSON_GetObjectItemCaseSensitive(ld->spec, "network");
  const char *dev_host = cJSON_GetObjectItemCaseSensitive(netspec, "host")->valuestring;
  netdev_listen at = {cJSON_GetObjectItemCaseSensitive(netspec, "listen")->valuestring,
                      cJSON_GetObjectItemCaseSensitive(netspec, "mqtt_port")->valueint,
                      cJSON_GetObjectItemCaseSensitive(netspec, "http_port")->valueint};
  if (netdev_open(&rn->loop, device_name(k->dev), k->log, &at, rn->mqtt_host, rn->mqtt_port,
                  fwserver_port(rn->fw), seed, &k->net, err, sizeof err) != 0) {
    set_outcome(k, O_ERROR, err);
    return;
  }
  if (serialdev_open(&rn->loop, device_name(k->dev), k->log, seed ^ 0x5E41A1ULL, &k->serial, err,
                     sizeof err) != 0) {
    set_outcome(k, O_ERROR, err);
    return;
  }
  snprintf(port, sizeof port, "%d", netdev_mqtt_port(k->net));
  snprintf(http_port, sizeof http_port, "%d", netdev_http_port(k->net));
  snprintf(broker_port, sizeof broker_port, "%d", rn->mqtt_port);
  snprintf(fw_port, sizeof fw_port, "%u", fwserver_port(rn->fw));
  snprintf(bin, sizeof bin, "%s", rn->o->bindir);
  device_vars vars = {0};
  device_vars_set(&vars, "bindir", bin);
  device_vars_set(&vars, "root", rn->o->root);
  device_vars_set(&vars, "mqtt_host", dev_host); /* where the device reaches its proxies */
  device_vars_set(&vars, "mqtt_port", port);
  device_vars_set(&vars, "http_host", dev_host);
  device_vars_set(&vars, "http_port", http_port);
  device_vars_set(&vars, "broker_port", broker_port); /* direct, bypassing the proxies */
  device_vars_set(&vars, "fw_port", fw_port);
  device_vars_set(&vars, "state_dir", state_dir);
  device_vars_set(&vars, "mcu_tty", serialdev_module_path(k->serial));   /* the module's UART */
  device_vars_set(&vars, "mcu_peer_tty", serialdev_mcu_path(k->serial)); /* the MCU's UART */
  device_vars_set(&vars, "name", ld->name);
  static const char *const fields[] = {"product", "device", "version", "dialect", NULL};
  for (int i = 0; fields[i]; i++) device_vars_set(&vars, fields[i], lab_str(ld, fields[i]));
  if (lab_str(ld, "secret")) device_vars_set(&vars, "secret", lab_str(ld, "secret")); /* {secret} */
  /* timing knobs are placeholders too: {download_timeout}, {boot_ms}, ... */
  char numbers[32][32]; /* lab.c allows at most 32 timing knobs */
  int nn = 0;
  const cJSON *timing = cJSON_GetObjectItemCaseSensitive(ld->spec, "timing");
  for (const cJSON *t = timing ? timing->child : NULL; t && nn < 32; t = t->next, nn++) {
    snprintf(numbers[nn], sizeof numbers[nn], "%.15g", t->valuedouble);
    device_vars_set(&vars, t->string, numbers[nn]);
  }
  if (device_attach(k->dev, k->log, &vars, err, sizeof err) != 0) {
    set_outcome(k, O_ERROR, err);
    return;
  }
  cJSON *ev = evlog_add(k->log, "start");
  cJSON_AddStringToObject(ev, "scenario", k->sc.file);
  cJSON_AddStringToObject(ev, "device", ld->name);
  cJSON_AddNumberToObject(ev, "seed", (double)rn->o->seed);
  /* the lab's deploy step (device_deploy.h) first; the scenario begins when it is done */
  int deploying = device_run_deploy(k->dev, &vars, rn->lab->file, on_deployed, k, err, sizeof err);
  if (deploying < 0) set_outcome(k, O_ERROR, err);
  if (deploying <= 0) return;
  case_begin(k);
}

/* The scenario's part of a case start: its state, its body, its deadline. */
static void case_begin(kase *k) {
  runner *rn = k->rn;
  char err[1024];
  k->env.mqtt_host = rn->mqtt_host;
  k->env.mqtt_port = rn->mqtt_port;
  k->env.runner = rn;
  k->env.files = (const char *const *)rn->files;
  k->env.work_dir = rn->work_real;
  snprintf(k->env.log_path, sizeof k->env.log_path, "%s/logs/%s.log", rn->o->report_dir, k->safe_id);
  k->R = new_rt(rn, k->log, err, sizeof err);
  if (!k->R) {
    set_outcome(k, O_ERROR, err);
    return;
  }
  api_env_set(rt_lua(k->R), &k->env);
  if (load_scenario(k->R, k->sc.file, err, sizeof err) != 0) {
    set_outcome(k, O_ERROR, err);
    return;
  }
  lua_State *L = rt_lua(k->R);
  lua_getfield(L, -1, "run");
  lua_remove(L, -2);
  push_t(k);
  uv_timer_start(k->timer, on_deadline,
                 (uint64_t)(k->sc.timeout * rn->o->timeout_multiplier * 1000.0), 0);
  rt_start(k->R, 1, on_done, k);
}

/* ---- the run ------------------------------------------------------------- */

static void on_fw_event(void *arg, const fwserver_event *e) {
  runner *rn = arg;
  /* image names start with "c<case index>-" */
  const char *n = e->name ? e->name : (strncmp(e->path, "/fw/", 4) == 0 ? e->path + 4 : NULL);
  if (!n || n[0] != 'c') return;
  char *end;
  unsigned long idx = strtoul(n + 1, &end, 10);
  if (*end != '-' || idx >= rn->ncases) return;
  kase *k = &rn->cases[idx];
  if (k->state == K_RUNNING && k->log) api_fw_event(k->log, e);
}

static void on_signal(uv_signal_t *s, int signum) {
  runner *rn = s->data;
  if (rn->summarized) { /* the outcome and the reports are final: one rule, whatever comes */
    fprintf(stderr, "otahil: %s after the summary: ignored (the run is over; the boards' power at exit runs)\n",
            signum == SIGINT ? "SIGINT" : "SIGTERM");
    return;
  }
  if (!rn->interrupted) fprintf(stderr, "\notahil: %s: stopping (cleanup runs; reports stay whole)\n",
                                signum == SIGINT ? "interrupted" : "terminated");
  else fprintf(stderr, "otahil: still cleaning up (power as the lab says, processes, reports); every step has "
                       "its time limit\n");
  if (!rn->interrupted) rn->interrupted = signum;
  for (size_t i = 0; i < rn->ncases; i++)
    if (rn->cases[i].state == K_RUNNING)
      set_outcome(&rn->cases[i], O_ERROR, signum == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)");
}

static int requires_ok(const scenario *s, const lab_device *d, char *why, size_t len) {
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(d->spec, "features");
  for (size_t i = 0; i < s->nrequires; i++) {
    int found = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, f) if (strcmp(x->valuestring, s->requires[i]) == 0) found = 1;
    if (!found) {
      snprintf(why, len, "device '%s' lacks the feature '%s'", d->name, s->requires[i]);
      return 0;
    }
  }
  return 1;
}

static int parse_broker(const char *url, char *host, size_t hlen, int *port) {
  const char *p = url;
  if (strncmp(p, "mqtt://", 7) == 0) p += 7;
  const char *colon = strrchr(p, ':');
  if (!colon || colon == p) return -1;
  snprintf(host, hlen, "%.*s", (int)(colon - p), p);
  char *end;
  long v = strtol(colon + 1, &end, 10);
  if (*end || v <= 0 || v > 65535) return -1;
  *port = (int)v;
  return 0;
}

/* Loads every scenario once, so that a broken file is exit 2 before anything runs. */
static int collect(runner *rn, char **files, size_t nfiles, char *err, size_t errlen) {
  rn->cases = calloc(nfiles * (rn->lab->count ? rn->lab->count : 1) + 1, sizeof *rn->cases);
  size_t matched = 0; /* cases the filter kept, in file order: --shard deals them round-robin */
  for (size_t i = 0; i < nfiles; i++) {
    evlog *log = evlog_new();
    rt *R = new_rt(rn, log, err, errlen);
    scenario sc;
    int rc = R ? load_scenario(R, files[i], err, errlen) : -1;
    if (rc == 0) rc = scenario_read(rt_lua(R), files[i], &sc, err, errlen);
    rt_free(R);
    evlog_free(log);
    if (rc != 0) return -1;
    if (catalogue_check_scenario(rn->cat, &sc, err, errlen) != 0) {
      scenario_clear(&sc);
      return -1;
    }
    int used = 0;
    for (size_t d = 0; d < rn->lab->count; d++) {
      const lab_device *ld = &rn->lab->devices[d];
      if (strcmp(lab_str(ld, "dialect"), sc.dialect) != 0) continue;
      kase *k = &rn->cases[rn->ncases];
      snprintf(k->id, sizeof k->id, "%s/%s@%s", sc.suite, sc.base, ld->name);
      if (rn->o->filter && fnmatch(rn->o->filter, k->id, 0) != 0) continue;
      if (rn->o->shard_count &&
          matched++ % (size_t)rn->o->shard_count != (size_t)(rn->o->shard_index - 1))
        continue;
      k->rn = rn;
      k->idx = rn->ncases++;
      k->dev = rn->devices[d];
      case_path(k->id, k->safe_id, sizeof k->safe_id);
      for (size_t j = 0; j < k->idx; j++)
        if (strcmp(rn->cases[j].id, k->id) == 0) {
          /* one log would overwrite the other, and a filter could not tell them apart */
          snprintf(err, errlen, "%s and %s both make the case %s: rename one (or put it in another folder)",
                   rn->cases[j].sc.file, files[i], k->id);
          rn->ncases--;
          if (!used) scenario_clear(&sc);
          return -1;
        }
      k->sc = sc;
      if (used++) { /* each case owns its copy */
        k->sc.file = strdup(sc.file), k->sc.suite = strdup(sc.suite), k->sc.base = strdup(sc.base);
        k->sc.name = strdup(sc.name), k->sc.dialect = strdup(sc.dialect);
        k->sc.requires = calloc(sc.nrequires + 1, sizeof(char *));
        for (size_t r = 0; r < sc.nrequires; r++) k->sc.requires[r] = strdup(sc.requires[r]);
      }
      char why[256];
      if (!requires_ok(&k->sc, ld, why, sizeof why)) {
        k->out = O_SKIP;
        k->message = strdup(why);
        k->state = K_DONE;
      }
    }
    if (!used) scenario_clear(&sc);
  }
  return 0;
}

static int device_busy(runner *rn, device *d) {
  for (size_t i = 0; i < rn->ncases; i++)
    if ((rn->cases[i].state == K_RUNNING || rn->cases[i].state == K_CLEANING) && rn->cases[i].dev == d)
      return 1;
  return 0;
}

static void run_cases(runner *rn) {
  int jobs = rn->o->jobs > 0 ? rn->o->jobs : 1;
  for (;;) {
    int active = 0, pending = 0;
    for (size_t i = 0; i < rn->ncases; i++) {
      kase *k = &rn->cases[i];
      if (k->state == K_CLEANING && device_settled(k->dev)) case_finish(k);
      if (k->state == K_CLEANING || k->state == K_RUNNING) active++;
    }
    for (size_t i = 0; i < rn->ncases; i++) {
      kase *k = &rn->cases[i];
      if (k->state != K_PENDING || rn->interrupted) continue;
      if (active < jobs && !device_busy(rn, k->dev)) {
        case_start(k);
        active++;
      }
      if (k->state == K_PENDING) pending++;
    }
    if (!active && !pending) break;
    uv_run(&rn->loop, UV_RUN_ONCE);
  }
  /* what never ran because of an interruption is reported as skipped */
  for (size_t i = 0; i < rn->ncases; i++) {
    kase *k = &rn->cases[i];
    if (k->state == K_PENDING) {
      k->out = O_SKIP;
      k->message = strdup("not run: the run was interrupted");
      k->state = K_DONE;
      record(k);
      reports_changed(rn);
    }
  }
}

static void fw_closed(void *arg) { *(int *)arg = 1; }

/* ---- the run's phases ----------------------------------------------------- */

/* The run document's head: tool, seed, started, lab, a zero summary. */
static cJSON *new_doc(const runner_opts *o) {
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
static void add_run_entry(runner *rn, const char *message) {
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
static void write_not_started(runner *rn, const char *why, int code) {
  cJSON_Delete(rn->doc);
  rn->doc = new_doc(rn->o);
  cJSON_AddStringToObject(rn->doc, "not_started", why);
  if (code) cJSON_AddNumberToObject(rn->doc, "exit", code);
  add_run_entry(rn, why);
  write_reports(rn);
}

/* Exit 2 (or 3) before any case ran: say it on stderr and in every report. */
static int fail_start(runner *rn, int code, const char *msg) {
  fprintf(stderr, "otahil: %s\n", msg);
  if (rn->reports_ready) {
    char why[2400];
    snprintf(why, sizeof why, "run did not start: %.2300s", msg);
    write_not_started(rn, why, code);
  }
  return code;
}

/* The report folder (absolute), its logs/ and work/images/, and the reports
 * replaced at once. Returns 0 or an exit code. */
static int prepare_dirs(runner *rn, runner_opts *abs, char *path, size_t plen) {
  const runner_opts *o = rn->o;
  static char report_abs[PATH_MAX];
  snprintf(path, plen, "%s/work/images", o->report_dir);
  if (mkdirs(path) != 0 || !realpath(o->report_dir, report_abs)) {
    fprintf(stderr, "otahil: cannot create %s: %s\n", path, strerror(errno));
    return EXIT_USAGE;
  }
  abs->report_dir = report_abs;
  if (snprintf(path, plen, "%s/logs", o->report_dir) >= (int)plen || mkdirs(path) != 0) {
    fprintf(stderr, "otahil: cannot create %s/logs: %s\n", o->report_dir, strerror(errno));
    return EXIT_USAGE;
  }
  rn->reports_ready = 1;
  write_not_started(rn, "the run is starting (if this stays, otahil was stopped before any case ran)", 0);
  if (snprintf(path, plen, "%s/work/images", o->report_dir) >= (int)plen)
    return fail_start(rn, EXIT_USAGE, "the --report path is too long");
  return 0;
}

/* The lab, its catalogue check, the files scenarios may read, the devices.
 * Returns 0 or an exit code. */
static int load_lab(runner *rn, const char *image_dir, char *err, size_t errlen) {
  const runner_opts *o = rn->o;
  if (lab_load(o->lab_file, image_dir, &rn->lab, err, errlen) != 0) return fail_start(rn, EXIT_USAGE, err);
  rn->cat = catalogue_load(rn->lib_dir, err, errlen);
  if (!rn->cat || catalogue_check_lab(rn->cat, rn->lab, err, errlen) != 0) return fail_start(rn, EXIT_USAGE, err);
  for (size_t i = 0; i < rn->lab->count; i++)
    collect_files(rn, cJSON_GetObjectItemCaseSensitive(rn->lab->devices[i].spec, "images"));
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/work", o->report_dir);
  if (!realpath(path, rn->work_real)) rn->work_real[0] = 0;
  rn->devices = calloc(rn->lab->count, sizeof *rn->devices);
  for (size_t i = 0; i < rn->lab->count; i++) {
    rn->devices[i] = device_new(&rn->loop, &rn->lab->devices[i], err, errlen);
    if (!rn->devices[i]) {
      char msg[2300];
      snprintf(msg, sizeof msg, "device '%s': %s", rn->lab->devices[i].name, err);
      return fail_start(rn, EXIT_INTERNAL, msg);
    }
  }
  return 0;
}

/* The broker (spawned or --broker) and the firmware server. Returns 0 or an exit code. */
static int cloud_up(runner *rn, char *err, size_t errlen) {
  const runner_opts *o = rn->o;
  char path[PATH_MAX];
  if (o->broker_url) {
    if (parse_broker(o->broker_url, rn->mqtt_host, sizeof rn->mqtt_host, &rn->mqtt_port) != 0) {
      snprintf(err, errlen, "--broker '%s': expected mqtt://host:port", o->broker_url);
      return fail_start(rn, EXIT_USAGE, err);
    }
  } else {
    snprintf(path, sizeof path, "%s/work", o->report_dir);
    if (broker_start(&rn->loop, path, 10.0, &rn->broker, err, errlen) != 0) return fail_start(rn, EXIT_INTERNAL, err);
    snprintf(rn->mqtt_host, sizeof rn->mqtt_host, "127.0.0.1");
    rn->mqtt_port = broker_port(rn->broker);
  }
  if (fwserver_start(&rn->loop, "127.0.0.1", 0, &rn->fw, err, errlen) != 0) {
    char msg[2300];
    snprintf(msg, sizeof msg, "firmware server: %s", err);
    return fail_start(rn, EXIT_INTERNAL, msg);
  }
  fwserver_on_event(rn->fw, on_fw_event, rn);
  snprintf(rn->fw_base, sizeof rn->fw_base, "http://127.0.0.1:%u", fwserver_port(rn->fw));
  return 0;
}

/* The loop watches SIGINT and SIGTERM from here to the exit; one recorded
 * before (signals.h) stops the run now. */
static void watch_signals(runner *rn) {
  uv_signal_init(&rn->loop, &rn->sigint);
  uv_signal_init(&rn->loop, &rn->sigterm);
  rn->sigint.data = rn->sigterm.data = rn;
  uv_signal_start(&rn->sigint, on_signal, SIGINT);
  uv_signal_start(&rn->sigterm, on_signal, SIGTERM);
  rn->signals_on = 1;
  int early = signals_take();
  if (early) on_signal(&rn->sigint, early);
}

/* Counts outcomes from the cases themselves (the document is for the reports). */
static void count_outcomes(const runner *rn, int counts[5]) {
  for (int i = 0; i < 5; i++) counts[i] = 0;
  for (size_t i = 0; i < rn->ncases; i++)
    if (rn->cases[i].state == K_DONE) counts[rn->cases[i].out]++;
}

/* The last reports and the summary line; returns the exit code. */
static int summarize(runner *rn) {
  cJSON *scs = cJSON_GetObjectItemCaseSensitive(rn->doc, "scenarios");
  cJSON *last = cJSON_GetArrayItem(scs, cJSON_GetArraySize(scs) - 1);
  if (last && strcmp(cJSON_GetObjectItemCaseSensitive(last, "id")->valuestring, "otahil/run") == 0)
    cJSON_DeleteItemFromArray(scs, cJSON_GetArraySize(scs) - 1); /* the run has finished */
  int complete = 1;
  cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(rn->doc, "scenarios"))
    if (cJSON_GetObjectItemCaseSensitive(e, "pending")) complete = 0;
  if (rn->interrupted) {
    char why[200];
    snprintf(why, sizeof why, "the run was interrupted (%s): cases after it did not run, and none counts as passed",
             rn->interrupted == SIGINT ? "SIGINT" : "SIGTERM");
    cJSON_AddTrueToObject(rn->doc, "interrupted");
    add_run_entry(rn, why);
  }
  cJSON_ReplaceItemInObject(rn->doc, "complete", cJSON_CreateBool(complete));
  write_reports(rn);
  int n[5];
  count_outcomes(rn, n);
  printf("otahil: %d passed, %d failed, %d errors, %d timeouts, %d skipped%s in %.1f s; reports in %s\n", n[O_PASS],
         n[O_FAIL], n[O_ERROR], n[O_TIMEOUT], n[O_SKIP], rn->interrupted ? " (interrupted)" : "", mono() - rn->t0,
         rn->o->report_dir);
  if (rn->capped) printf("otahil: %d case(s) filled their event log (see log.capped in their logs)\n", rn->capped);
  int code = (n[O_FAIL] || n[O_ERROR] || n[O_TIMEOUT] || rn->interrupted) ? EXIT_FAILED : EXIT_PASS;
  if (!n[O_PASS] && !n[O_FAIL] && !n[O_ERROR] && !n[O_TIMEOUT] && n[O_SKIP] && !rn->interrupted) {
    /* a typo in a lab's features must not turn a whole suite green */
    printf("otahil: nothing ran: every case was skipped (see why above)\n");
    code = EXIT_FAILED;
  }
  if (rn->internal_error && code == EXIT_PASS) code = EXIT_INTERNAL;
  fflush(stdout);
  rn->summarized = 1;
  return code;
}

/* Everything the run started is stopped and closed; the loop ends with no
 * handle open. A signal now is recorded and ignored (signals.h). */
static int teardown(runner *rn, int code) {
  if (rn->fw) {
    int closed = 0;
    fwserver_close(rn->fw, fw_closed, &closed);
    rn->fw = NULL;
    while (!closed) uv_run(&rn->loop, UV_RUN_ONCE);
  }
  for (size_t i = 0; rn->devices && i < rn->lab->count; i++) device_free(rn->devices[i]);
  if (rn->broker) broker_stop(rn->broker, 3.0);
  /* the boards' power at exit runs in the loop below: signals stay caught (a Ctrl-C then
     only says so), but no longer keep the loop alive */
  if (rn->signals_on) {
    uv_unref((uv_handle_t *)&rn->sigint);
    uv_unref((uv_handle_t *)&rn->sigterm);
  }
  uv_close((uv_handle_t *)&rn->report_timer, NULL);
  /* let every close callback run; a handle left open here is a bug */
  uv_run(&rn->loop, UV_RUN_DEFAULT);
  if (rn->signals_on) {
    uv_close((uv_handle_t *)&rn->sigint, NULL);
    uv_close((uv_handle_t *)&rn->sigterm, NULL);
    uv_run(&rn->loop, UV_RUN_DEFAULT);
    signals_install(); /* libuv put the default back: exit 130 must not come now */
  }
  if (uv_loop_close(&rn->loop) != 0) {
    fprintf(stderr, "otahil: internal error: handles left open at exit\n");
    if (code == EXIT_PASS) code = EXIT_INTERNAL;
  }
  if (signals_take()) fprintf(stderr, "otahil: a signal after the summary: ignored (the run is over)\n");
  return code;
}

static void free_run(runner *rn, char **files, size_t nfiles) {
  for (size_t i = 0; i < rn->ncases; i++) {
    scenario_clear(&rn->cases[i].sc);
    free(rn->cases[i].message);
  }
  free(rn->cases);
  free(rn->devices);
  cJSON_Delete(rn->doc);
  scenario_files_free(files, nfiles);
  lab_free(rn->lab);
  catalogue_free(rn->cat);
  for (size_t i = 0; i < rn->nfiles; i++) free(rn->files[i]);
  free(rn->files);
  fflush(stdout);
}

/* The scenarios found and checked, their cases made; then the run document
 * with every case pending. Returns 0 or an exit code. */
static int plan(runner *rn, char ***files, size_t *nfiles, char *err, size_t errlen) {
  const runner_opts *o = rn->o;
  if (scenario_find(o->paths, o->npaths, files, nfiles, err, errlen) != 0 ||
      collect(rn, *files, *nfiles, err, errlen) != 0)
    return fail_start(rn, EXIT_USAGE, err);
  if (rn->ncases == 0) {
    snprintf(err, errlen, "no scenario case to run (%zu files; check the paths, --filter and the lab's dialects)",
             *nfiles);
    return fail_start(rn, EXIT_USAGE, err);
  }
  cJSON_Delete(rn->doc);
  rn->doc = new_doc(o);
  add_pending_entries(rn);
  /* until the last write the run itself is an ERROR too: a report a killed
     otahil leaves behind never reads green, even when every case had passed */
  add_run_entry(rn, "the run has not finished (if this stays, otahil was stopped: a kill or a crash)");
  cJSON *scs = cJSON_GetObjectItemCaseSensitive(rn->doc, "scenarios");
  cJSON_AddTrueToObject(cJSON_GetArrayItem(scs, cJSON_GetArraySize(scs) - 1), "pending");
  return 0;
}

int runner_run(const runner_opts *opts) {
  runner rn_s = {0}, *rn = &rn_s;
  /* the report folder as an absolute path: the lab resolves files relative to
   * its own folder, and devices may run elsewhere */
  runner_opts abs_opts = *opts;
  rn->o = &abs_opts;
  rn->t0 = mono();
  char err[2048], path[PATH_MAX];
  char **files = NULL;
  size_t nfiles = 0;
  snprintf(rn->lib_dir, sizeof rn->lib_dir, "%s/scenarios/lib", opts->root);
  uv_loop_init(&rn->loop);
  uv_timer_init(&rn->loop, &rn->report_timer);
  rn->report_timer.data = rn;
  int code = prepare_dirs(rn, &abs_opts, path, sizeof path);
  if (!code) code = load_lab(rn, path, err, sizeof err);
  if (!code) code = plan(rn, &files, &nfiles, err, sizeof err);
  if (!code) code = cloud_up(rn, err, sizeof err);
  if (!code) {
    printf("otahil %s: %zu case(s), broker %s:%d, firmware server %s, seed %llu\n", OTAHIL_VERSION, rn->ncases,
           rn->mqtt_host, rn->mqtt_port, rn->fw_base, (unsigned long long)rn->o->seed);
    fflush(stdout);
    watch_signals(rn);
    /* cases skipped up front (missing features) are recorded first */
    for (size_t i = 0; i < rn->ncases; i++)
      if (rn->cases[i].state == K_DONE) record(&rn->cases[i]);
    write_reports(rn);
    run_cases(rn);
    int closed = 0; /* the firmware server goes first: no request of a case outlives the run */
    fwserver_close(rn->fw, fw_closed, &closed);
    rn->fw = NULL;
    while (!closed) uv_run(&rn->loop, UV_RUN_ONCE);
    code = summarize(rn);
  } else if (signals_take()) {
    fprintf(stderr, "otahil: interrupted before any case ran\n");
  }
  code = teardown(rn, code);
  free_run(rn, files, nfiles);
  return code;
}

int runner_list(char **paths, int npaths, const char *root, const char *filter) {
  char **files = NULL;
  size_t n = 0;
  char err[2048], lib[PATH_MAX];
  snprintf(lib, sizeof lib, "%s/scenarios/lib", root);
  if (scenario_find(paths, npaths, &files, &n, err, sizeof err) != 0) {
    fprintf(stderr, "otahil: %s\n", err);
    return EXIT_USAGE;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  int code = EXIT_PASS;
  for (size_t i = 0; i < n; i++) {
    evlog *log = evlog_new();
    rt_config cfg = {.loop = &loop, .log = log, .lib_dir = lib};
    rt *R = rt_new(&cfg, err, sizeof err);
    if (R) open_modules(R);
    scenario sc;
    if (!R || load_scenario(R, files[i], err, sizeof err) != 0 ||
        scenario_read(rt_lua(R), files[i], &sc, err, sizeof err) != 0) {
      fprintf(stderr, "otahil: %s\n", err);
      code = EXIT_USAGE;
    } else {
      char id[512];
      snprintf(id, sizeof id, "%s/%s", sc.suite, sc.base);
      if (!filter || fnmatch(filter, id, 0) == 0)
        printf("%-40s %s (%s, %.0f s)\n", id, sc.name, sc.dialect, sc.timeout);
      scenario_clear(&sc);
    }
    rt_free(R);
    evlog_free(log);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  scenario_files_free(files, n);
  return code;
}
