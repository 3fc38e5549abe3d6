/* The process power driver and a device's whole process tree, with real
 * processes: tree_device.sh starts a child without exec, a child that ignores
 * SIGTERM and a double-forked setsid daemon. Power off (hard and graceful),
 * the program exiting on its own and power_process_free must each leave no
 * process of the tree running, and the exit status must be the program's. */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "../common/check_run.h"
#include "power_process.h"
#include "tree_procs.h"

static double mult(void) {
  const char *m = getenv("OTAHIL_TIMEOUT_MULTIPLIER");
  double v = m ? strtod(m, NULL) : 1;
  return v > 0 ? v : 1;
}

typedef struct ran {
  int exited;
  int64_t status;
  int sig;
  uint64_t at; /* uv_hrtime */
} ran;

static void on_exit_cb(void *arg, int64_t status, int sig) {
  ran *r = arg;
  r->exited = 1;
  r->status = status;
  r->sig = sig;
  r->at = uv_hrtime();
}

typedef struct fx {
  uv_loop_t loop;
  char mark[64];
  int out; /* the device's output */
  ran r;
  power_process *p;
} fx;

/* Starts tree_device.sh (MODE "" or "exit") with its output on a pipe and
 * waits for its "tree up": then its four processes run (the shell, two
 * sleeps, the daemon's sleep). */
static void start(fx *f, const char *mode) {
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  snprintf(f->mark, sizeof f->mark, "otahil-tree-%d-%ld", (int)getpid(), (long)(uv_hrtime() % 1000000));
  char dev[512];
  snprintf(dev, sizeof dev, "%s/tree_device.sh", getenv("POWER_TEST_DIR"));
  char *argv[] = {dev, f->mark, (char *)mode, NULL};
  int out[2];
  ck_assert_int_eq(pipe(out), 0);
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  f->out = out[0];
  f->p = power_process_new(&f->loop, argv, out[1], on_exit_cb, &f->r);
  ck_assert_ptr_nonnull(f->p);
  char err[256];
  ck_assert_int_eq(power_process_on(f->p, err, sizeof err), 0);
  close(out[1]);
  uint64_t end = uv_hrtime() + (uint64_t)(10e9 * mult());
  char said[256] = "";
  size_t n = 0;
  while (!strstr(said, "tree up") && uv_hrtime() < end) {
    uv_run(&f->loop, UV_RUN_NOWAIT);
    ssize_t k = read(f->out, said + n, sizeof said - 1 - n);
    if (k > 0) said[n += (size_t)k] = 0;
    else usleep(10000);
  }
  int procs = tree_procs(f->mark, 0);
  if (procs < 4) tree_procs(f->mark, 1); /* nothing left behind by a failed test */
  ck_assert_msg(strstr(said, "tree up"), "the device said '%s'", said);
  ck_assert_int_ge(procs, 4);
}

static void wait_exit(fx *f) {
  uint64_t end = uv_hrtime() + (uint64_t)(10e9 * mult());
  while (!f->r.exited && uv_hrtime() < end) {
    uv_run(&f->loop, UV_RUN_NOWAIT);
    usleep(1000);
  }
  ck_assert_msg(f->r.exited, "the device did not exit");
}

/* Nothing of the tree runs; frees the driver and closes the loop. */
static void finish(fx *f) {
  int left = tree_procs(f->mark, 0);
  tree_procs(f->mark, 1); /* what the old code left behind */
  if (f->p) power_process_free(f->p);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  close(f->out);
  ck_assert_int_eq(uv_loop_close(&f->loop), 0);
  ck_assert_msg(left == 0, "%d process(es) of the device's tree still run", left);
}

START_TEST(hard_off_reaches_the_whole_tree) {
  fx f = {0};
  start(&f, "");
  int pid = power_process_pid(f.p);
  ck_assert_int_eq(power_process_off(f.p, 0, 0), 0);
  wait_exit(&f);
  ck_assert_int_eq(f.r.sig, SIGKILL); /* the program's own status */
  ck_assert_int_eq(kill(pid, 0), -1); /* and the pid otahil waited on is reaped */
  finish(&f);
}
END_TEST

START_TEST(graceful_off_reaches_the_whole_tree) {
  fx f = {0};
  start(&f, "");
  uint64_t t0 = uv_hrtime();
  ck_assert_int_eq(power_process_off(f.p, 1, 300), 0);
  wait_exit(&f);
  /* the shell died of the SIGTERM; the child that ignores it held the power
   * on until the grace was over and the tree was cut */
  double secs = (double)(f.r.at - t0) / 1e9;
  finish(&f);
  ck_assert_int_eq(f.r.sig, SIGTERM);
  ck_assert_msg(secs >= 0.25, "off after %.3f s, before the 300 ms grace was over", secs);
}
END_TEST

START_TEST(what_an_exiting_program_leaves_goes_with_it) {
  fx f = {0};
  start(&f, "exit");
  wait_exit(&f);
  ck_assert_int_eq(f.r.sig, 0);
  ck_assert_int_eq(f.r.status, 3);
  finish(&f);
}
END_TEST

START_TEST(free_cuts_the_whole_tree) {
  fx f = {0};
  start(&f, "");
  power_process_free(f.p);
  f.p = NULL;
  uint64_t end = uv_hrtime() + (uint64_t)(5e9 * mult());
  while (tree_procs(f.mark, 0) > 0 && uv_hrtime() < end) {
    uv_run(&f.loop, UV_RUN_NOWAIT);
    usleep(10000);
  }
  ck_assert_int_eq(f.r.exited, 0); /* no callback after free */
  finish(&f);
}
END_TEST

int main(void) {
  Suite *s = suite_create("power_tree");
  TCase *tc = tcase_create("tree");
  tcase_set_timeout(tc, 60 * mult());
  tcase_add_test(tc, hard_off_reaches_the_whole_tree);
  tcase_add_test(tc, graceful_off_reaches_the_whole_tree);
  tcase_add_test(tc, what_an_exiting_program_leaves_goes_with_it);
  tcase_add_test(tc, free_cuts_the_whole_tree);
  suite_add_tcase(s, tc);
  return check_run(s);
}
