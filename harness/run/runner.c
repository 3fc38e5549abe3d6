/* runner: the run's phases (runner.h); the case machinery is in cases.c. */
#include "runner.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "live.h"
#include "mqttc.h"
#include "rt_libs.h"
#include "run_internal.h"
#include "signals.h"

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

static int parse_broker(const char *url, char *host, size_t hlen, int *port, int *tls) {
  const char *p = url;
  *tls = strncmp(p, "mqtts://", 8) == 0;
  if (*tls) p += 8;
  else if (strncmp(p, "mqtt://", 7) == 0) p += 7;
  const char *colon = strrchr(p, ':');
  if (!colon || colon == p) return -1;
  snprintf(host, hlen, "%.*s", (int)(colon - p), p);
  char *end;
  long v = strtol(colon + 1, &end, 10);
  if (*end || v <= 0 || v > 65535) return -1;
  *port = (int)v;
  return 0;
}

static void fw_closed(void *arg) { *(int *)arg = 1; }

/* --broker mqtts://: one client must log in (TLS verified) before any case starts, so a
   wrong CA or a broker that does not speak TLS is one clear line and exit 2, not a case
   ERROR each. */
static int broker_tls_check(runner *rn, char *err, size_t errlen) {
  const runner_opts *o = rn->o;
  if (!rn->mqtt_tls) {
    if (o->broker_ca) snprintf(err, errlen, "--broker-ca needs --broker mqtts://host:port");
    return o->broker_ca ? -1 : 0;
  }
  mqttc_tls tls = {o->broker_ca};
  char why[600];
  if (mqttc_probe(&rn->loop, rn->mqtt_host, rn->mqtt_port, &tls, 5.0 * o->timeout_multiplier, why, sizeof why) == 0)
    return 0;
  snprintf(err, errlen, "--broker %s%s%s: %s", o->broker_url, o->broker_ca ? " --broker-ca " : "",
           o->broker_ca ? o->broker_ca : "", why);
  return -1;
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

/* The lab's library folders (rt_libs.h): --lib's, then the lab file's lib; none may
   shadow a standard module. Returns 0 or -1 with err. */
static int lab_libs(runner *rn, char *err, size_t errlen) {
  const runner_opts *o = rn->o;
  size_t n = 0;
  while (rn->lab->libs && rn->lab->libs[n]) n++;
  rn->lab_libs = calloc((size_t)o->nlibs + n + 1, sizeof *rn->lab_libs);
  for (int i = 0; i < o->nlibs; i++) {
    char real[PATH_MAX];
    if (!realpath(o->libs[i], real)) {
      snprintf(err, errlen, "--lib %s: %s", o->libs[i], strerror(errno));
      return -1;
    }
    rn->lab_libs[i] = strdup(real);
  }
  for (size_t i = 0; i < n; i++) rn->lab_libs[o->nlibs + i] = strdup(rn->lab->libs[i]);
  return rt_libs_check(rn->lib_dir, (const char *const *)rn->lab_libs, err, errlen);
}

/* The lab, its catalogue check, the files scenarios may read, the devices.
 * Returns 0 or an exit code. */
static int load_lab(runner *rn, const char *image_dir, char *err, size_t errlen) {
  const runner_opts *o = rn->o;
  if (lab_load(o->lab_file, image_dir, &rn->lab, err, errlen) != 0) return fail_start(rn, EXIT_USAGE, err);
  if (lab_libs(rn, err, errlen) != 0) return fail_start(rn, EXIT_USAGE, err);
  rn->cat = catalogue_load(rn->lib_dir, err, errlen);
  if (!rn->cat || catalogue_check_lab(rn->cat, rn->lab, err, errlen) != 0) return fail_start(rn, EXIT_USAGE, err);
  for (size_t i = 0; i < rn->lab->count; i++)
    collect_files(rn, rn->lab->devices[i].images);
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
    if (parse_broker(o->broker_url, rn->mqtt_host, sizeof rn->mqtt_host, &rn->mqtt_port, &rn->mqtt_tls) != 0) {
      snprintf(err, errlen, "--broker '%s': expected mqtt://host:port or mqtts://host:port", o->broker_url);
      return fail_start(rn, EXIT_USAGE, err);
    }
    if (broker_tls_check(rn, err, errlen) != 0) return fail_start(rn, EXIT_USAGE, err);
  } else if (o->broker_ca) {
    return fail_start(rn, EXIT_USAGE, "--broker-ca needs --broker mqtts://host:port");
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
  rn->fw_router = fw_router_new(rn->fw);
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

/* --repeat: how often each case passed, "qcloud/03@emu1: 9/10 passed". */
static void print_repeats(const runner *rn) {
  size_t base = rn->ncases / (size_t)rn->o->repeat; /* collect.c: iteration blocks, in order */
  for (size_t i = 0; i < base; i++) {
    const kase *k = &rn->cases[i];
    int runs = 0, passed = 0;
    for (size_t j = i; j < rn->ncases; j += base) {
      const kase *o = &rn->cases[j];
      if (o->state != K_DONE || o->out == O_SKIP) continue;
      runs++;
      passed += o->out == O_PASS;
    }
    printf("        %.*s: %d/%d passed\n", (int)k->id_base, k->id, passed, runs);
  }
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
  int n[5], flaky = 0;
  count_outcomes(rn, n);
  for (size_t i = 0; i < rn->ncases; i++) flaky += rn->cases[i].out == O_PASS && rn->cases[i].attempts;
  char flaky_s[48] = "";
  if (flaky) snprintf(flaky_s, sizeof flaky_s, " (%d flaky: passed on a retry)", flaky);
  if (rn->o->repeat > 1) print_repeats(rn);
  printf("otahil: %d passed%s, %d failed, %d errors, %d timeouts, %d skipped%s in %.1f s; reports in %s\n",
         n[O_PASS], flaky_s, n[O_FAIL], n[O_ERROR], n[O_TIMEOUT], n[O_SKIP], rn->interrupted ? " (interrupted)" : "",
         mono() - rn->t0, rn->o->report_dir);
  if (rn->capped) printf("otahil: %d case(s) filled their event log (see log.capped in their logs)\n", rn->capped);
  int code = (n[O_FAIL] || n[O_ERROR] || n[O_TIMEOUT] || rn->interrupted) ? EXIT_FAILED : EXIT_PASS;
  if (!n[O_PASS] && !n[O_FAIL] && !n[O_ERROR] && !n[O_TIMEOUT] && n[O_SKIP] && !rn->interrupted) {
    /* a typo in a lab's features must not turn a whole suite green */
    printf("otahil: nothing ran: every case was skipped (see why above)\n");
    code = EXIT_FAILED;
  }
  if (rn->nno_case) { /* a scenario that was asked for and did not run is not a pass */
    printf("otahil: %d selected scenario(s) made no case, no lab device has their dialect:", rn->nno_case);
    for (int i = 0; i < rn->nno_case; i++) printf("%s %s", i ? "," : "", rn->no_case[i]);
    printf("\n");
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
  fw_router_free(rn->fw_router); /* after the close: it may route the events of cut requests */
  rn->fw_router = NULL;
  for (size_t i = 0; rn->devices && i < rn->lab->count; i++) device_free(rn->devices[i]);
  if (rn->broker) broker_stop(rn->broker, 3.0);
  /* the boards' power at exit runs in the loop below: signals stay caught (a Ctrl-C then
     only says so), but no longer keep the loop alive */
  if (rn->signals_on) {
    uv_unref((uv_handle_t *)&rn->sigint);
    uv_unref((uv_handle_t *)&rn->sigterm);
  }
  if (rn->live_timer.data) live_close(rn);
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
  for (size_t i = 0; i < rn->ncases; i++) cJSON_Delete(rn->cases[i].attempts);
  free(rn->cases);
  for (int i = 0; i < rn->nno_case; i++) free(rn->no_case[i]);
  free(rn->no_case);
  free(rn->devices);
  cJSON_Delete(rn->doc);
  scenario_files_free(files, nfiles);
  lab_free(rn->lab);
  for (size_t i = 0; rn->lab_libs && rn->lab_libs[i]; i++) free(rn->lab_libs[i]);
  free(rn->lab_libs);
  catalogue_free(rn->cat);
  for (size_t i = 0; i < rn->nfiles; i++) free(rn->files[i]);
  free(rn->files);
  fflush(stdout);
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
    live_init(rn);
    /* cases skipped up front (missing features) are recorded first */
    for (size_t i = 0; i < rn->ncases; i++)
      if (rn->cases[i].state == K_DONE) record(&rn->cases[i]);
    write_reports(rn);
    run_cases(rn);
    live_close(rn); /* the status lines go before the summary */
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
