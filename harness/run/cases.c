/* cases: a case's life on the loop. start (proxies, serial line, the device
 * attached, the lab's deploy step) -> the scenario's run(t) under its deadline
 * -> cleanup whatever the outcome (faults cleared, power cut) -> finish once the
 * device is reaped (console saved, images forgotten, recorded). */
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_fw.h"
#include "case_table.h"
#include "live.h"
#include "run_internal.h"

/* A case's message is one line for people: a scenario's 10 MB error text is
 * cut here (the case's log keeps the whole). */
#define MESSAGE_MAX 4096

static void case_cleanup(kase *k);
static void case_finish(kase *k);
static void case_begin(kase *k);

void open_modules(rt *R) {
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
int load_scenario(rt *R, const char *file, char *err, size_t errlen) {
  lua_State *L = rt_lua(R);
  if (rt_load_file(R, file, err, errlen) != 0) return -1;
  if (rt_pcall(R, 0, 1, err, errlen) != 0) {
    lua_settop(L, 0);
    return -1;
  }
  return 0;
}

rt *new_rt(runner *rn, evlog *log, char *err, size_t errlen) {
  rt_config cfg = {0};
  cfg.loop = &rn->loop;
  cfg.log = log;
  cfg.lib_dir = rn->lib_dir;
  cfg.lab_libs = (const char *const *)rn->lab_libs;
  cfg.timeout_multiplier = rn->o->timeout_multiplier;
  rt *R = rt_new(&cfg, err, errlen);
  if (R) open_modules(R);
  return R;
}

void set_outcome(kase *k, outcome o, const char *msg) {
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

/* "<dir>/logs/<safe_id>.attempt<N><ext>" */
static void attempt_path(const kase *k, const char *ext, char *out, size_t len) {
  snprintf(out, len, "%s/logs/%s.attempt%d%s", k->rn->o->report_dir, k->safe_id, k->attempt + 1, ext);
}

/* Moves a file the entry names (its key) to the attempt's name. */
static void keep_attempt_file(const kase *k, cJSON *entry, const char *key, const char *ext) {
  cJSON *f = cJSON_GetObjectItemCaseSensitive(entry, key);
  if (!cJSON_IsString(f)) return;
  char to[PATH_MAX + 64];
  attempt_path(k, ext, to, sizeof to);
  if (rename(f->valuestring, to) == 0) cJSON_SetValuestring(f, to);
}

/* --retries: an ERROR (the harness, the lab or the rack failed, never the
 * device) runs the case again. The attempt's entry and files are kept beside
 * it (report.h "attempts"); its place in the document is pending again. */
static void retry(kase *k) {
  runner *rn = k->rn;
  cJSON *scs = cJSON_GetObjectItemCaseSensitive(rn->doc, "scenarios");
  cJSON *entry = cJSON_DetachItemFromArray(scs, (int)k->idx);
  keep_attempt_file(k, entry, "log", ".log");
  keep_attempt_file(k, entry, "console", ".console");
  keep_attempt_file(k, entry, "events_file", ".events.json");
  cJSON_DeleteItemFromObjectCaseSensitive(entry, "attempts");
  if (!k->attempts) k->attempts = cJSON_CreateArray();
  cJSON_AddItemToArray(k->attempts, entry);
  cJSON_InsertItemInArray(scs, (int)k->idx, pending_entry(k, "not finished: running again after an ERROR"));
  k->attempt++;
  printf("        retrying after the ERROR: attempt %d of %d\n", k->attempt + 1, rn->o->retries + 1);
  fflush(stdout);
  free(k->message);
  k->message = NULL;
  k->out = O_PASS;
  k->state = K_PENDING;
}

static void case_finish(kase *k) {
  runner *rn = k->rn;
  char line[MESSAGE_MAX + 200];
  snprintf(line, sizeof line, "outcome %s after %.3f s%s%s", outcome_names[k->out], k->duration,
           k->message ? ": " : "", k->message ? k->message : "");
  for (char *c = line; *c; c++)
    if (*c == '\n' || *c == '\r') *c = ' ';
  live_case_end(k, line);
  fw_images_free(k->imgs); /* the images this case served are forgotten */
  k->imgs = NULL;
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
  if (k->out == O_ERROR && k->attempt < rn->o->retries && !rn->interrupted) retry(k);
  else if (k->out != O_PASS && k->out != O_SKIP && !rn->stopped_by) rn->stopped_by = k;
  reports_changed(k->rn);
}

static void on_deployed(void *arg, int rc, const char *msg) {
  kase *k = arg;
  if (k->state != K_RUNNING) return; /* stopped meanwhile (Ctrl-C) */
  if (rc != 0) set_outcome(k, O_ERROR, msg);
  else case_begin(k);
}

/* The strings a device's placeholders expand to ({mqtt_port}, {state_dir}, ...
 * and each timing knob): kept while the case starts. */
typedef struct case_vars {
  device_vars v;
  char state_dir[PATH_MAX], mqtt_port[16], http_port[16], broker_port[16], fw_port[16];
  char numbers[LAB_TIMING_MAX][32];
} case_vars;

/* The names are lab_placeholders.h's (checked when the lab loads). */
static void vars_fill(kase *k, case_vars *cv) {
  runner *rn = k->rn;
  const lab_device *ld = device_lab(k->dev);
  const char *dev_host = ld->net.host;
  device_vars *v = &cv->v;
  snprintf(cv->mqtt_port, sizeof cv->mqtt_port, "%d", netdev_mqtt_port(k->net));
  snprintf(cv->http_port, sizeof cv->http_port, "%d", netdev_http_port(k->net));
  snprintf(cv->broker_port, sizeof cv->broker_port, "%d", rn->mqtt_port);
  snprintf(cv->fw_port, sizeof cv->fw_port, "%u", fwserver_port(rn->fw));
  device_vars_set(v, "bindir", rn->o->bindir);
  device_vars_set(v, "root", rn->o->root);
  device_vars_set(v, "mqtt_host", dev_host); /* where the device reaches its proxies */
  device_vars_set(v, "mqtt_port", cv->mqtt_port);
  device_vars_set(v, "http_host", dev_host);
  device_vars_set(v, "http_port", cv->http_port);
  device_vars_set(v, "broker_port", cv->broker_port); /* direct, bypassing the proxies */
  device_vars_set(v, "fw_port", cv->fw_port);
  const char *ca_file = ld->tls.on ? ld->tls.ca : NULL;
  device_vars_set(v, "mqtt_scheme", ca_file ? "mqtts" : "mqtt");
  device_vars_set(v, "http_scheme", ca_file ? "https" : "http");
  if (ca_file) device_vars_set(v, "ca_file", ca_file); /* the CA the device must trust */
  device_vars_set(v, "state_dir", cv->state_dir);
  if (k->serial) {
    device_vars_set(v, "mcu_tty", serialdev_module_path(k->serial));   /* the module's UART */
    device_vars_set(v, "mcu_peer_tty", serialdev_mcu_path(k->serial)); /* the MCU's UART */
  }
  device_vars_set(v, "name", ld->name);
  device_vars_set(v, "product", ld->product);
  device_vars_set(v, "device", ld->device);
  device_vars_set(v, "version", ld->version);
  device_vars_set(v, "dialect", ld->dialect);
  if (ld->secret) device_vars_set(v, "secret", ld->secret); /* {secret} */
  /* timing knobs are placeholders too: {download_timeout}, {boot_ms}, ... */
  for (size_t i = 0; i < ld->timing.n; i++) {
    snprintf(cv->numbers[i], sizeof cv->numbers[i], "%.15g", ld->timing.knob[i].value);
    device_vars_set(v, ld->timing.knob[i].name, cv->numbers[i]);
  }
}

/* The case's folders: a fresh state folder for the device, the suite's log folder. */
static void case_folders(kase *k, case_vars *cv) {
  runner *rn = k->rn;
  snprintf(cv->state_dir, sizeof cv->state_dir, "%s/work/%s/state", rn->o->report_dir, k->safe_id);
  rm_rf(cv->state_dir);
  mkdirs(cv->state_dir);
  char logdir[PATH_MAX]; /* logs/<suite>/ */
  snprintf(logdir, sizeof logdir, "%s/logs/%s", rn->o->report_dir, k->safe_id);
  *strrchr(logdir, '/') = 0;
  mkdirs(logdir);
}

/* The device reaches the cloud through this case's fault proxies, and its MCU
 * through the serial relay; their seed depends on the case id only, so a case
 * replays alone exactly (the id without its --repeat suffix: --seed S replays
 * an iteration). */
static int case_links(kase *k, char *err, size_t errlen) {
  runner *rn = k->rn;
  uint64_t seed = k->seed;
  for (size_t i = 0; i < k->id_base; i++) seed = (seed ^ (unsigned char)k->id[i]) * 0x100000001b3ULL;
  const lab_device *ld = device_lab(k->dev);
  /* lab `tls`: the proxies terminate TLS; auth = "platform": the MQTT proxy holds each
   * CONNECT for the dialect's decision (case_auth_wire) */
  netdev_listen at = {ld->net.listen, ld->net.mqtt_port, ld->net.http_port, ld->tls.cert, ld->tls.key, ld->tls.pki,
                      ld->auth_platform, 5.0 * rn->o->timeout_multiplier,
                      rn->mqtt_tls, rn->o->broker_ca}; /* --broker mqtts://: the MQTT proxy is a TLS client */
  if (netdev_open(&rn->loop, device_name(k->dev), k->log, &at, rn->mqtt_host, rn->mqtt_port, fwserver_port(rn->fw),
                  seed, &k->net, err, errlen) != 0)
    return -1;
  /* the module-MCU serial relay (QuecThing SOTA) only for a device that asks for it */
  if (!ld->uses_mcu_tty) return 0;
  return serialdev_open(&rn->loop, device_name(k->dev), k->log, seed ^ 0x5E41A1ULL, &k->serial, err, errlen);
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
  case_vars *cv = calloc(1, sizeof *cv);
  if (!cv) abort();
  case_folders(k, cv);
  live_case_start(k); /* the case's log exists from here (tail -f) */
  int rc = case_links(k, err, sizeof err);
  if (rc == 0) {
    vars_fill(k, cv);
    rc = device_attach(k->dev, k->log, &cv->v, err, sizeof err);
  }
  if (rc != 0) {
    free(cv);
    set_outcome(k, O_ERROR, err);
    return;
  }
  cJSON *ev = evlog_add(k->log, "start");
  cJSON_AddStringToObject(ev, "scenario", k->sc.file);
  cJSON_AddStringToObject(ev, "device", device_name(k->dev));
  cJSON_AddNumberToObject(ev, "seed", (double)k->seed);
  /* the lab's deploy step (device_deploy.h) first; the scenario begins when it is done */
  int deploying = device_run_deploy(k->dev, &cv->v, rn->lab->file, on_deployed, k, err, sizeof err);
  free(cv);
  if (deploying < 0) set_outcome(k, O_ERROR, err);
  if (deploying <= 0) return;
  case_begin(k);
}
/* Pushes the case's t (case_table.h) above the scenario's params list at the top. */
static void push_t(kase *k) {
  runner *rn = k->rn;
  lua_State *L = rt_lua(k->R);
  const lab_device *ld = device_lab(k->dev);
  char base[128];
  case_fw_base(ld->net.host, ld->tls.on, netdev_http_port(k->net), base, sizeof base);
  if (!k->imgs) k->imgs = fw_images_new(rn->fw_router, k->log); /* freed by case_finish */
  case_parts p = {.dev = k->dev, .net = k->net, .serial = k->serial, .fw = k->imgs, .fw_base = base,
                  .id = k->id, .name = k->sc.name, .seed = k->seed,
                  .timeout_multiplier = rn->o->timeout_multiplier, .params_at = lua_absindex(L, -1),
                  .param = k->param};
  case_table_push(L, &p);
}


/* The scenario's part of a case start: its state, its body, its deadline. */
static void case_begin(kase *k) {
  runner *rn = k->rn;
  char err[1024];
  k->env.mqtt_host = rn->mqtt_host;
  k->env.mqtt_port = rn->mqtt_port;
  k->env.mqtt_tls = rn->mqtt_tls;
  k->env.mqtt_ca = rn->o->broker_ca;
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
  lua_getfield(L, -2, "params");
  lua_remove(L, -3); /* run, params */
  push_t(k);
  lua_remove(L, -2); /* run, t */
  if (case_auth_wire(k, err, sizeof err) != 0) {
    lua_pop(L, 2);
    set_outcome(k, O_ERROR, err);
    return;
  }
  uv_timer_start(k->timer, on_deadline,
                 (uint64_t)(k->sc.timeout * rn->o->timeout_multiplier * 1000.0), 0);
  rt_start(k->R, 1, on_done, k);
}

static int device_busy(runner *rn, device *d) {
  for (size_t i = 0; i < rn->ncases; i++)
    if ((rn->cases[i].state == K_RUNNING || rn->cases[i].state == K_CLEANING) && rn->cases[i].dev == d)
      return 1;
  return 0;
}

void run_cases(runner *rn) {
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
      if (k->state != K_PENDING || rn->interrupted || (rn->o->until_fail && rn->stopped_by)) continue;
      if (active < jobs && !device_busy(rn, k->dev)) {
        case_start(k);
        active++;
      }
      if (k->state == K_PENDING) pending++;
    }
    if (!active && !pending) break;
    uv_run(&rn->loop, UV_RUN_ONCE);
  }
  /* what never ran because of an interruption (or --until-fail) is reported as skipped */
  char why[sizeof rn->cases->id + 64] = "not run: the run was interrupted";
  if (!rn->interrupted && rn->stopped_by)
    snprintf(why, sizeof why, "not run: --until-fail stopped after %s", rn->stopped_by->id);
  for (size_t i = 0; i < rn->ncases; i++) {
    kase *k = &rn->cases[i];
    if (k->state == K_PENDING) {
      k->out = O_SKIP;
      k->message = strdup(why);
      k->state = K_DONE;
      record(k);
      reports_changed(rn);
    }
  }
}

