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
#include "broker.h"
#include "catalogue.h"
#include "device.h"
#include "fwserver.h"
#include "lab.h"
#include "report.h"
#include "rt.h"
#include "scenario.h"

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
  char safe_id[512];
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
  int interrupted;
  int internal_error;
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
  char path[PATH_MAX], err[512];
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

static void record(kase *k) {
  runner *rn = k->rn;
  cJSON *c = case_entry(k, outcome_names[k->out], k->message);
  cJSON_AddNumberToObject(c, "duration", k->duration);
  char logpath[PATH_MAX], err[512];
  snprintf(logpath, sizeof logpath, "%s/logs/%s.log", rn->o->report_dir, k->safe_id);
  cJSON_AddStringToObject(c, "log", logpath);
  char conpath[PATH_MAX]; /* the raw console, saved by case_finish */
  snprintf(conpath, sizeof conpath, "%s/logs/%s.console", rn->o->report_dir, k->safe_id);
  if (k->log && access(conpath, F_OK) == 0) cJSON_AddStringToObject(c, "console", conpath);
  if (k->log) {
    cJSON *events = evlog_array(k->log);
    cJSON_AddItemReferenceToObject(c, "events", events);
    if (report_write_text_log(c, logpath, err, sizeof err) != 0) {
      fprintf(stderr, "otahil: %s\n", err);
      rn->internal_error = 1;
    }
    /* the document keeps its own copy; the log is freed with the case */
    cJSON_DeleteItemFromObjectCaseSensitive(c, "events");
    cJSON_AddItemToObject(c, "events", cJSON_Duplicate(events, 1));
  } else {
    cJSON_AddArrayToObject(c, "events");
  }
  cJSON_ReplaceItemInArray(cJSON_GetObjectItemCaseSensitive(rn->doc, "scenarios"), (int)k->idx, c);
  reports_changed(rn);
  printf("%-7s %s (%.2f s)%s%s\n", outcome_names[k->out], k->id, k->duration,
         k->message ? "\n        " : "", k->message ? k->message : "");
  if (k->out != O_PASS && k->out != O_SKIP) printf("        log: %s\n", logpath);
  fflush(stdout);
}

/* ---- a case's life ------------------------------------------------------- */

static void case_cleanup(kase *k);
static void case_finish(kase *k);

static void set_outcome(kase *k, outcome o, const char *msg) {
  if (k->state != K_RUNNING) return;
  k->out = o;
  free(k->message);
  k->message = msg ? strdup(msg) : NULL;
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
  evlog_free(k->log);
  k->log = NULL;
  k->state = K_DONE;
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
  k->log = evlog_new();
  k->timer = malloc(sizeof *k->timer);
  if (!k->timer) abort();
  uv_timer_init(&rn->loop, k->timer);
  k->timer->data = k;

  char state_dir[PATH_MAX], port[16], bin[PATH_MAX], http_port[16], broker_port[16], fw_port[16];
  snprintf(state_dir, sizeof state_dir, "%s/work/%s/state", rn->o->report_dir, k->safe_id);
  rm_rf(state_dir);
  mkdirs(state_dir);
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
  if (!rn->interrupted) fprintf(stderr, "\notahil: %s: stopping (cleanup runs; reports stay whole)\n",
                                signum == SIGINT ? "interrupted" : "terminated");
  else fprintf(stderr, "otahil: still cleaning up (power as the lab says, processes, reports); every step has "
                       "its time limit\n");
  rn->interrupted = 1;
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
      snprintf(k->safe_id, sizeof k->safe_id, "%s", k->id);
      for (char *p = k->safe_id; *p; p++)
        if (*p == '/') *p = '-';
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
    }
  }
}

static void fw_closed(void *arg) { *(int *)arg = 1; }

int runner_run(const runner_opts *opts) {
  runner rn_s = {0}, *rn = &rn_s;
  /* the report folder as an absolute path: the lab resolves files relative to
   * its own folder, and devices may run elsewhere */
  runner_opts abs_opts = *opts;
  const runner_opts *o = &abs_opts;
  char report_abs[PATH_MAX];
  rn->o = o;
  rn->t0 = mono();
  char err[2048], path[PATH_MAX];
  int code = EXIT_PASS;
  snprintf(rn->lib_dir, sizeof rn->lib_dir, "%s/scenarios/lib", o->root);
  snprintf(path, sizeof path, "%s/work/images", o->report_dir);
  if (mkdirs(path) != 0 || !realpath(o->report_dir, report_abs)) {
    fprintf(stderr, "otahil: cannot create %s: %s\n", path, strerror(errno));
    return EXIT_USAGE;
  }
  abs_opts.report_dir = report_abs;
  if (snprintf(path, sizeof path, "%s/logs", o->report_dir) >= (int)sizeof path || mkdirs(path) != 0) {
    fprintf(stderr, "otahil: cannot create %s/logs: %s\n", o->report_dir, strerror(errno));
    return EXIT_USAGE;
  }
  if (snprintf(path, sizeof path, "%s/work/images", o->report_dir) >= (int)sizeof path) {
    fprintf(stderr, "otahil: %s: path too long\n", o->report_dir);
    return EXIT_USAGE;
  }
  if (lab_load(o->lab_file, path, &rn->lab, err, sizeof err) != 0) {
    fprintf(stderr, "otahil: %s\n", err);
    return EXIT_USAGE;
  }
  rn->cat = catalogue_load(rn->lib_dir, err, sizeof err);
  if (!rn->cat || catalogue_check_lab(rn->cat, rn->lab, err, sizeof err) != 0) {
    fprintf(stderr, "otahil: %s\n", err);
    catalogue_free(rn->cat);
    lab_free(rn->lab);
    return EXIT_USAGE;
  }
  for (size_t i = 0; i < rn->lab->count; i++)
    collect_files(rn, cJSON_GetObjectItemCaseSensitive(rn->lab->devices[i].spec, "images"));
  snprintf(path, sizeof path, "%s/work", o->report_dir);
  if (!realpath(path, rn->work_real)) rn->work_real[0] = 0;
  char **files = NULL;
  size_t nfiles = 0;
  uv_loop_init(&rn->loop);
  uv_timer_init(&rn->loop, &rn->report_timer);
  rn->report_timer.data = rn;
  rn->devices = calloc(rn->lab->count, sizeof *rn->devices);
  for (size_t i = 0; i < rn->lab->count; i++) {
    rn->devices[i] = device_new(&rn->loop, &rn->lab->devices[i], err, sizeof err);
    if (!rn->devices[i]) {
      fprintf(stderr, "otahil: device '%s': %s\n", rn->lab->devices[i].name, err);
      code = EXIT_INTERNAL;
      goto out;
    }
  }
  if (scenario_find(o->paths, o->npaths, &files, &nfiles, err, sizeof err) != 0 ||
      collect(rn, files, nfiles, err, sizeof err) != 0) {
    fprintf(stderr, "otahil: %s\n", err);
    code = EXIT_USAGE;
    goto out;
  }
  if (rn->ncases == 0) {
    fprintf(stderr, "otahil: no scenario case to run (%zu files; check the paths, --filter and the lab's dialects)\n",
            nfiles);
    code = EXIT_USAGE;
    goto out;
  }
  rn->doc = cJSON_CreateObject();
  cJSON_AddStringToObject(rn->doc, "tool", "otahil");
  cJSON_AddStringToObject(rn->doc, "version", OTAHIL_VERSION);
  cJSON_AddNumberToObject(rn->doc, "seed", (double)o->seed);
  char started[64];
  time_t now = time(NULL);
  strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  cJSON_AddStringToObject(rn->doc, "started", started);
  cJSON_AddNumberToObject(rn->doc, "duration", 0);
  cJSON_AddStringToObject(rn->doc, "lab", o->lab_file);
  cJSON *sum = cJSON_AddObjectToObject(rn->doc, "summary");
  static const char *const keys[] = {"total", "pass", "fail", "error", "timeout", "skip"};
  for (int i = 0; i < 6; i++) cJSON_AddNumberToObject(sum, keys[i], 0);
  cJSON_AddFalseToObject(rn->doc, "complete"); /* true in the last write, when every case is in */
  cJSON_AddArrayToObject(rn->doc, "scenarios");
  add_pending_entries(rn);

  /* the cloud */
  if (o->broker_url) {
    if (parse_broker(o->broker_url, rn->mqtt_host, sizeof rn->mqtt_host, &rn->mqtt_port) != 0) {
      fprintf(stderr, "otahil: --broker '%s': expected mqtt://host:port\n", o->broker_url);
      code = EXIT_USAGE;
      goto out;
    }
  } else {
    snprintf(path, sizeof path, "%s/work", o->report_dir);
    if (broker_start(&rn->loop, path, 10.0, &rn->broker, err, sizeof err) != 0) {
      fprintf(stderr, "otahil: %s\n", err);
      code = EXIT_INTERNAL;
      goto out;
    }
    snprintf(rn->mqtt_host, sizeof rn->mqtt_host, "127.0.0.1");
    rn->mqtt_port = broker_port(rn->broker);
  }
  if (fwserver_start(&rn->loop, "127.0.0.1", 0, &rn->fw, err, sizeof err) != 0) {
    fprintf(stderr, "otahil: firmware server: %s\n", err);
    code = EXIT_INTERNAL;
    goto out;
  }
  fwserver_on_event(rn->fw, on_fw_event, rn);
  snprintf(rn->fw_base, sizeof rn->fw_base, "http://127.0.0.1:%u", fwserver_port(rn->fw));
  printf("otahil %s: %zu case(s), broker %s:%d, firmware server %s, seed %llu\n", OTAHIL_VERSION,
         rn->ncases, rn->mqtt_host, rn->mqtt_port, rn->fw_base, (unsigned long long)o->seed);
  fflush(stdout);

  uv_signal_init(&rn->loop, &rn->sigint);
  uv_signal_init(&rn->loop, &rn->sigterm);
  rn->sigint.data = rn->sigterm.data = rn;
  uv_signal_start(&rn->sigint, on_signal, SIGINT);
  uv_signal_start(&rn->sigterm, on_signal, SIGTERM);
  rn->signals_on = 1;

  /* cases skipped up front (missing features) are recorded first */
  for (size_t i = 0; i < rn->ncases; i++)
    if (rn->cases[i].state == K_DONE) record(&rn->cases[i]);
  write_reports(rn);
  run_cases(rn);

  {
    int closed = 0;
    fwserver_close(rn->fw, fw_closed, &closed);
    rn->fw = NULL;
    while (!closed) uv_run(&rn->loop, UV_RUN_ONCE);
  }
  int complete = 1;
  cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(rn->doc, "scenarios"))
    if (cJSON_GetObjectItemCaseSensitive(e, "pending")) complete = 0;
  cJSON_ReplaceItemInObject(rn->doc, "complete", cJSON_CreateBool(complete));
  write_reports(rn);
  cJSON *s = cJSON_GetObjectItemCaseSensitive(rn->doc, "summary");
  int pass = cJSON_GetObjectItemCaseSensitive(s, "pass")->valueint;
  int fail = cJSON_GetObjectItemCaseSensitive(s, "fail")->valueint;
  int error = cJSON_GetObjectItemCaseSensitive(s, "error")->valueint;
  int tmo = cJSON_GetObjectItemCaseSensitive(s, "timeout")->valueint;
  int skip = cJSON_GetObjectItemCaseSensitive(s, "skip")->valueint;
  printf("otahil: %d passed, %d failed, %d errors, %d timeouts, %d skipped in %.1f s; reports in %s\n",
         pass, fail, error, tmo, skip, mono() - rn->t0, o->report_dir);
  code = (fail || error || tmo || rn->interrupted) ? EXIT_FAILED : EXIT_PASS;
  if (!pass && !fail && !error && !tmo && skip && !rn->interrupted) {
    /* a typo in a lab's features must not turn a whole suite green */
    printf("otahil: nothing ran: every case was skipped (see why above)\n");
    code = EXIT_FAILED;
  }
  if (rn->internal_error && code == EXIT_PASS) code = EXIT_INTERNAL;

out:
  if (rn->fw) {
    int closed = 0;
    fwserver_close(rn->fw, fw_closed, &closed);
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
  }
  if (uv_loop_close(&rn->loop) != 0) {
    fprintf(stderr, "otahil: internal error: handles left open at exit\n");
    if (code == EXIT_PASS) code = EXIT_INTERNAL;
  }
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
