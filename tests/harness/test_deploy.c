/* The deploy step: the lab keys `deploy` and `base_image` (lab_deploy.c, every
 * mistake one located line), and the command run on a real libuv loop
 * (device_deploy.c): output in the log, exit status, signal, timeout with its
 * process group killed, a missing program, waiting for the power, a stop. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/check_run.h"
#include "../common/lab_text.h"
#include "../common/tmpdir.h"
#include "device_deploy.h"
#include "lab.h"

static char dir[256];

static void setup(void) { tmpdir_make(dir, sizeof dir, "otahil-deploy"); }
static void teardown(void) { tmpdir_remove(dir); }

#define HEAD "device \"b1\" {\n  dialect = \"qcloud\", product = \"P\", device = \"d\", version = \"1.0.0\",\n"
#define BOARD "  kind = \"board\", power = { driver = \"exec\", on = {\"true\"}, off = {\"true\"} },\n"

static void expect_error(const char *text, const char *what) {
  lab_text_expect_error(dir, "lab.lua", text, "lab.lua:1: device 'b1': ", what);
}

static void write_file(const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

/* ---- the lab keys -------------------------------------------------------- */

START_TEST(lab_good) {
  write_file("base.bin", "firmware");
  lab *l = NULL;
  char err[1024] = "";
  int rc = lab_text_load(dir, "lab.lua",
                         HEAD BOARD "  deploy = { cmd = { \"st-flash\", \"write\", \"{image}\", \"0x08000000\" }, timeout = 86400 },\n"
                                    "  base_image = \"base.bin\" }\n"
                         "device \"p1\" { dialect = \"qcloud\", product = \"P\", device = \"e\", version = \"1\",\n"
                         "  cmd = {\"x\"}, deploy = { cmd = { \"rm\", \"-rf\", \"{state_dir}\" } } }\n",
                         &l, err, sizeof err);
  ck_assert_msg(rc == 0, "%s", err);
  char want[600];
  snprintf(want, sizeof want, "%s/base.bin", dir);
  ck_assert_str_eq(l->devices[0].base_image, want); /* made absolute */
  const cJSON *dep = cJSON_GetObjectItem(l->devices[0].spec, "deploy");
  ck_assert_double_eq(cJSON_GetObjectItem(dep, "timeout")->valuedouble, 86400); /* the most: a day */
  dep = cJSON_GetObjectItem(l->devices[1].spec, "deploy"); /* a process device; the default timeout */
  ck_assert_double_eq(cJSON_GetObjectItem(dep, "timeout")->valuedouble, 300);
  lab_free(l);
}
END_TEST

START_TEST(lab_errors) {
  write_file("base.bin", "firmware");
  static const lab_text_case cases[] = {
      {"deploy = \"st-flash write\"", "deploy must be a table: deploy = { cmd = {"},
      {"deploy = { cmd = {\"x\"}, tiemout = 3 }", "deploy.tiemout is unknown (cmd, timeout)"},
      {"deploy = { timeout = 3 }", "deploy.cmd is missing (the flashing command as a list"},
      {"deploy = { cmd = \"flash.sh\" }", "deploy.cmd must be a non-empty list of strings (argv; no shell)"},
      {"deploy = { cmd = {} }", "deploy.cmd must be a non-empty list of strings"},
      {"deploy = { cmd = { \"flash\", 3 } }", "deploy.cmd must hold only strings (argv; no shell)"},
      {"deploy = { cmd = {\"x\"}, timeout = 0 }", "deploy.timeout must be a number > 0"},
      {"deploy = { cmd = {\"x\"}, timeout = \"2m\" }", "deploy.timeout must be a number > 0"},
      /* a deploy timer of whole milliseconds: these would not fit (UB, killed at once) */
      {"deploy = { cmd = {\"x\"}, timeout = math.huge }", "deploy.timeout must be a number > 0 and <= 86400"},
      {"deploy = { cmd = {\"x\"}, timeout = 1e300 }", "deploy.timeout must be a number > 0 and <= 86400"},
      {"deploy = { cmd = {\"x\"}, timeout = 86400.5 }", "deploy.timeout must be a number > 0 and <= 86400"},
      {"deploy = { cmd = {\"x\"}, timeout = 0/0 }", "deploy.timeout must be a number > 0 and <= 86400"},
      {"deploy = { cmd = {\"x\"}, timeout = -1 }", "deploy.timeout must be a number > 0 and <= 86400"},
      {"deploy = { cmd = { \"flash\", \"--file={image}\" } }", "deploy.cmd[2] uses {image} but base_image is not set"},
      {"deploy = { cmd = {\"x\"} }, base_image = 7", "base_image must be a file name (the {image} of deploy.cmd)"},
      {"deploy = { cmd = {\"x\"} }, base_image = \"fw/none.bin\"", "base_image: file '"},
      {"deploy = { cmd = {\"x\"} }, base_image = \"fw/none.bin\"", "/fw/none.bin' does not exist"},
      {"deplyo = { cmd = {\"x\"} }", "key 'deplyo' is unknown ("},
  };
  lab_text_expect_errors(dir, "lab.lua", HEAD BOARD "  %s }\n", "lab.lua:1: device 'b1': ", cases,
                         sizeof cases / sizeof *cases);
  /* the list of known keys names both */
  expect_error(HEAD BOARD "  deplyo = 1 }\n", "deploy, base_image");
}
END_TEST

/* lab/examples/rack.lua shows a deploy with a flashing tool (a copy, with its files). */
START_TEST(the_rack_example_has_a_deploy) {
  lab *l = lab_text_load_rack_example(dir);
  const cJSON *dep = cJSON_GetObjectItem(l->devices[0].spec, "deploy");
  ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(dep, "cmd"), 0)->valuestring, "st-flash");
  ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(dep, "cmd"), 3)->valuestring, "{image}");
  char path[300];
  snprintf(path, sizeof path, "%s/fw/b1-1.0.0.bin", dir);
  ck_assert_str_eq(l->devices[0].base_image, path);
  lab_free(l);
}
END_TEST

/* ---- the command on a loop ----------------------------------------------- */

typedef struct result {
  int called, rc;
  char msg[1024];
} result;

static void on_done(void *arg, int rc, const char *msg) {
  result *r = arg;
  r->called++;
  r->rc = rc;
  snprintf(r->msg, sizeof r->msg, "%s", msg ? msg : "");
}

typedef struct ready_state {
  int answer, asked;
} ready_state;

static int ready(void *arg) {
  ready_state *s = arg;
  s->asked++;
  return s->asked < 3 && s->answer > 0 ? 0 : s->answer; /* "not yet" twice, then the answer */
}

typedef struct fixture {
  uv_loop_t loop;
  lab *l;
  device_deploy *dp;
  evlog *log;
  device_vars vars;
  result res;
} fixture;

/* A process device whose deploy is `deploy` (a Lua table text). */
static void fx_open(fixture *f, const char *deploy) {
  memset(f, 0, sizeof *f);
  write_file("base.bin", "firmware");
  char text[2048], err[1024] = "";
  snprintf(text, sizeof text, HEAD "  cmd = {\"x\"}, base_image = \"base.bin\", deploy = %s }\n", deploy);
  ck_assert_msg(lab_text_load(dir, "lab.lua", text, &f->l, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  f->dp = device_deploy_new(&f->loop, &f->l->devices[0], "lab.lua");
  ck_assert_ptr_nonnull(f->dp);
  f->log = evlog_new();
  device_vars_set(&f->vars, "name", "b1");
  device_vars_set(&f->vars, "state_dir", dir);
}

static void on_limit(uv_timer_t *t) { *(int *)t->data = 1; }

/* Runs the loop until done is called (or the deploy is no longer busy after a
 * stop), at most `seconds`. */
static void fx_run(fixture *f, double seconds, int until_idle) {
  uv_timer_t t;
  int over = 0;
  uv_timer_init(&f->loop, &t);
  t.data = &over;
  uv_timer_start(&t, on_limit, (uint64_t)(seconds * 1000), 0);
  while (!over && (until_idle ? device_deploy_busy(f->dp) : !f->res.called)) uv_run(&f->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  ck_assert_msg(!over, "the deploy did not end within %.1f s", seconds);
}

static void fx_close(fixture *f) {
  device_deploy_free(f->dp);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&f->loop), 0); /* no handle left open */
  evlog_free(f->log);
  lab_free(f->l);
}

static int start(fixture *f, ready_state *rs, char *err, size_t errlen) {
  return device_deploy_start(f->dp, f->log, &f->vars, rs ? ready : NULL, rs, 5, on_done, &f->res, err, errlen);
}

/* The events of a kind, as "field=value" of one field, joined by '|'. */
static void fields(fixture *f, const char *kind, const char *field, char *out, size_t len) {
  out[0] = 0;
  for (size_t i = 0; i < evlog_count(f->log); i++) {
    const cJSON *ev = evlog_get(f->log, i);
    if (strcmp(cJSON_GetObjectItem(ev, "kind")->valuestring, kind) != 0) continue;
    const cJSON *v = cJSON_GetObjectItem(ev, field);
    char one[512];
    if (cJSON_IsString(v)) snprintf(one, sizeof one, "%s", v->valuestring);
    else if (cJSON_IsNumber(v)) snprintf(one, sizeof one, "%g", v->valuedouble);
    else snprintf(one, sizeof one, "-");
    size_t n = strlen(out);
    snprintf(out + n, len - n, "%s%s", n ? "|" : "", one);
  }
}

START_TEST(runs_with_placeholders_and_logs_output) {
  fixture f;
  fx_open(&f, "{ cmd = { \"/bin/sh\", \"-c\", \"echo {name} {image}; printf 'a\\\\rb\\\\n'; echo warn >&2\" } }");
  char err[512];
  ck_assert_int_eq(start(&f, NULL, err, sizeof err), 0);
  ck_assert_int_eq(f.res.called, 0); /* never inside start */
  fx_run(&f, 10, 0);
  ck_assert_int_eq(f.res.rc, 0);
  char got[2048], want[1024];
  fields(&f, "deploy", "state", got, sizeof got);
  ck_assert_str_eq(got, "start|done");
  fields(&f, "deploy.out", "line", got, sizeof got);
  snprintf(want, sizeof want, "b1 %s/base.bin", dir);
  ck_assert_msg(strstr(got, want) && strstr(got, "|a|b") && strstr(got, "warn"), "%s", got);
  fields(&f, "deploy", "status", got, sizeof got);
  ck_assert_str_eq(got, "-|0");
  fields(&f, "deploy", "seconds", got, sizeof got);
  ck_assert_msg(strtod(strchr(got, '|') + 1, NULL) > 0, "%s", got);
  ck_assert_int_eq(f.res.called, 1);
  fx_close(&f);
}
END_TEST

START_TEST(exit_status_is_one_located_line) {
  fixture f;
  fx_open(&f, "{ cmd = { \"/bin/sh\", \"-c\", \"echo first >&2; echo 'no ST-LINK found' >&2; exit 3\" } }");
  char err[512];
  ck_assert_int_eq(start(&f, NULL, err, sizeof err), 0);
  fx_run(&f, 10, 0);
  ck_assert_int_eq(f.res.rc, -1);
  ck_assert_msg(strncmp(f.res.msg, "lab.lua:1: device 'b1': deploy exited 3 after ", 46) == 0, "%s", f.res.msg);
  ck_assert_msg(strstr(f.res.msg, " s: no ST-LINK found (see the case log)") != NULL, "%s", f.res.msg);
  ck_assert_ptr_null(strchr(f.res.msg, '\n'));
  char got[1024];
  fields(&f, "deploy", "state", got, sizeof got);
  ck_assert_str_eq(got, "start|failed");
  fx_close(&f);
}
END_TEST

START_TEST(signal_and_missing_program) {
  fixture f;
  fx_open(&f, "{ cmd = { \"/bin/sh\", \"-c\", \"kill -TERM $$\" } }");
  char err[512];
  ck_assert_int_eq(start(&f, NULL, err, sizeof err), 0);
  fx_run(&f, 10, 0);
  ck_assert_msg(strstr(f.res.msg, "device 'b1': deploy was killed by signal 15 after ") != NULL, "%s", f.res.msg);
  fx_close(&f);

  fx_open(&f, "{ cmd = { \"/nonexistent/st-flash\", \"{image}\" } }");
  ck_assert_int_eq(start(&f, NULL, err, sizeof err), 0);
  fx_run(&f, 10, 0);
  ck_assert_str_eq(f.res.msg, "lab.lua:1: device 'b1': deploy: cannot run '/nonexistent/st-flash': no such file or "
                              "directory (see the case log)");
  fx_close(&f);
}
END_TEST

static int alive(pid_t pid) { /* a zombie waiting for init counts as gone */
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *fp = fopen(path, "r");
  if (!fp) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, fp);
  fclose(fp);
  buf[n] = 0;
  const char *p = strrchr(buf, ')');
  return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

START_TEST(timeout_kills_the_group) {
  fixture f;
  char text[512], pidfile[300];
  snprintf(pidfile, sizeof pidfile, "%s/bg.pid", dir);
  /* a child in the background and one in front; both must go */
  snprintf(text, sizeof text, "{ cmd = { \"/bin/sh\", \"-c\", \"sleep 30 & echo $! > %s; sleep 31\" }, timeout = 0.5 }",
           pidfile);
  fx_open(&f, text);
  char err[512];
  ck_assert_int_eq(start(&f, NULL, err, sizeof err), 0);
  uint64_t t0 = uv_hrtime();
  fx_run(&f, 10, 0);
  double took = (double)(uv_hrtime() - t0) / 1e9;
  ck_assert_msg(took >= 0.45 && took < 5, "took %.2f s", took);
  ck_assert_str_eq(f.res.msg, "lab.lua:1: device 'b1': deploy did not finish within 0.5 s (killed) (see the case log)");
  FILE *fp = fopen(pidfile, "r");
  ck_assert_ptr_nonnull(fp);
  long bg = 0;
  ck_assert_int_eq(fscanf(fp, "%ld", &bg), 1);
  fclose(fp);
  for (int i = 0; i < 100 && alive((pid_t)bg); i++) usleep(20000);
  ck_assert_msg(!alive((pid_t)bg), "the background child %ld still runs", bg);
  fx_close(&f);
}
END_TEST

START_TEST(waits_for_the_power) {
  fixture f;
  fx_open(&f, "{ cmd = { \"/bin/echo\", \"flashed\" } }");
  ready_state rs = {.answer = 1};
  char err[512];
  ck_assert_int_eq(start(&f, &rs, err, sizeof err), 0);
  /* a loop turn per look: something must wake the loop, as a power call's end does */
  uv_timer_t tick;
  uv_timer_init(&f.loop, &tick);
  uv_timer_start(&tick, on_limit, 10, 10);
  int dummy = 0;
  tick.data = &dummy;
  fx_run(&f, 10, 0);
  uv_close((uv_handle_t *)&tick, NULL);
  ck_assert_int_eq(f.res.rc, 0);
  ck_assert_int_ge(rs.asked, 3);
  fx_close(&f);

  fx_open(&f, "{ cmd = { \"/bin/echo\", \"flashed\" } }");
  ready_state bad = {.answer = -1};
  ck_assert_int_eq(start(&f, &bad, err, sizeof err), 0);
  fx_run(&f, 10, 0);
  ck_assert_str_eq(f.res.msg, "lab.lua:1: device 'b1': deploy: the power is not off (a power call failed) "
                              "(see the case log)");
  char got[512];
  fields(&f, "deploy", "state", got, sizeof got);
  ck_assert_str_eq(got, "failed"); /* the command never started */
  fx_close(&f);
}
END_TEST

START_TEST(stop_kills_and_never_calls_done) {
  fixture f;
  fx_open(&f, "{ cmd = { \"/bin/sh\", \"-c\", \"echo started; exec sleep 30\" }, timeout = 60 }");
  char err[512];
  ck_assert_int_eq(start(&f, NULL, err, sizeof err), 0);
  /* until it printed: then it surely runs */
  for (int i = 0; i < 500 && evlog_count(f.log) < 2; i++) uv_run(&f.loop, UV_RUN_ONCE);
  ck_assert_int_ge(evlog_count(f.log), 2);
  ck_assert_int_eq(device_deploy_busy(f.dp), 1);
  device_deploy_stop(f.dp);
  size_t n = evlog_count(f.log);
  fx_run(&f, 5, 1); /* reaped and closed */
  ck_assert_int_eq(device_deploy_busy(f.dp), 0);
  ck_assert_int_eq(f.res.called, 0);
  ck_assert_int_eq(evlog_count(f.log), n); /* nothing logged after the stop */
  char got[512];
  fields(&f, "deploy", "state", got, sizeof got);
  ck_assert_str_eq(got, "start|killed");
  /* the next case deploys again */
  f.res.called = 0;
  ck_assert_int_eq(start(&f, NULL, err, sizeof err), 0);
  device_deploy_stop(f.dp); /* before it started: nothing runs */
  fx_run(&f, 5, 1);
  ck_assert_int_eq(f.res.called, 0);
  fx_close(&f);
}
END_TEST

/* A name the lab knows but the case did not fill (the lab refuses unknown ones
 * at load: tests/harness/test_lab.c) is still refused here, not run as text. */
START_TEST(unknown_placeholder) {
  fixture f;
  fx_open(&f, "{ cmd = { \"flash\", \"{image}\", \"{mqtt_port}\" } }");
  char err[512];
  ck_assert_int_eq(start(&f, NULL, err, sizeof err), -1);
  ck_assert_str_eq(err, "lab.lua:1: device 'b1': deploy.cmd[3] uses the unknown placeholder {mqtt_port}");
  ck_assert_int_eq(device_deploy_busy(f.dp), 0);
  fx_close(&f);
}
END_TEST

int main(void) {
  Suite *s = suite_create("deploy");
  TCase *tc = tcase_create("deploy");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, lab_good);
  tcase_add_test(tc, lab_errors);
  tcase_add_test(tc, the_rack_example_has_a_deploy);
  tcase_add_test(tc, runs_with_placeholders_and_logs_output);
  tcase_add_test(tc, exit_status_is_one_located_line);
  tcase_add_test(tc, signal_and_missing_program);
  tcase_add_test(tc, timeout_kills_the_group);
  tcase_add_test(tc, waits_for_the_power);
  tcase_add_test(tc, stop_kills_and_never_calls_done);
  tcase_add_test(tc, unknown_placeholder);
  suite_add_tcase(s, tc);
  return check_run(s);
}
