/* child_guard and otahil-child: what exec would say of a program; the wrapped
 * command line; a guarded child that dies with its parent (the parent killed
 * with SIGKILL); and nothing run when the parent is already gone. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/tmpdir.h"
#include "../power/tree_procs.h"
#include "child_guard.h"

START_TEST(check_exec_says_what_exec_would) {
  ck_assert_int_eq(child_guard_check_exec("/bin/sh"), 0);
  ck_assert_int_eq(child_guard_check_exec("sh"), 0); /* found in PATH */
  ck_assert_int_eq(child_guard_check_exec("/nonexistent/prog"), -ENOENT);
  ck_assert_int_eq(child_guard_check_exec("no-such-program-otahil"), -ENOENT);
  ck_assert_int_eq(child_guard_check_exec("/tmp"), -EACCES); /* a folder */
  ck_assert_int_eq(child_guard_check_exec(""), -ENOENT);
  char dir[256], file[300];
  tmpdir_make(dir, sizeof dir, "otahil-guard");
  snprintf(file, sizeof file, "%s/data", dir);
  FILE *f = fopen(file, "w");
  ck_assert_ptr_nonnull(f);
  fclose(f);
  if (geteuid() != 0) ck_assert_int_eq(child_guard_check_exec(file), -EACCES); /* not executable */
  ck_assert_int_eq(remove(file), 0);
  tmpdir_remove(dir);
}
END_TEST

START_TEST(argv_runs_the_program_through_the_wrapper) {
  char *argv[] = {"/bin/echo", "a b", NULL};
  char **g = child_guard_argv(argv);
  ck_assert_ptr_nonnull(g); /* otahil-child is built beside otahil */
  ck_assert_msg(strstr(g[0], "/otahil-child") != NULL, "%s", g[0]);
  ck_assert_int_eq(child_guard_check_exec(g[0]), 0);
  ck_assert_int_eq(strtol(g[1], NULL, 10), getpid());
  ck_assert_str_eq(g[2], "/bin/echo");
  ck_assert_str_eq(g[3], "a b");
  ck_assert_ptr_null(g[4]);
  child_guard_free(g);
}
END_TEST

static pid_t spawn(char **argv) {
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    execv(argv[0], argv);
    _exit(126);
  }
  return pid;
}

/* The guard's point: this test process is a subreaper, so the orphan comes to
 * us and waitpid tells how it ended. A "parent" starts `sleep 60` through
 * otahil-child, then is killed (SIGKILL): the sleep must die with it. */
START_TEST(the_child_dies_with_its_parent) {
  ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int fds[2];
  ck_assert_int_eq(pipe(fds), 0);
  pid_t parent = fork();
  ck_assert_int_ge(parent, 0);
  if (parent == 0) {
    close(fds[0]);
    char *argv[] = {"/bin/sleep", "60", NULL};
    char **g = child_guard_argv(argv);
    if (!g) _exit(2);
    pid_t kid = spawn(g);
    if (write(fds[1], &kid, sizeof kid) != (ssize_t)sizeof kid) _exit(3);
    for (;;) pause(); /* until killed */
  }
  close(fds[1]);
  pid_t kid = 0;
  ck_assert_int_eq(read(fds[0], &kid, sizeof kid), (ssize_t)sizeof kid);
  close(fds[0]);
  /* let the wrapper arm the guard and exec sleep */
  char path[64], comm[64] = "";
  snprintf(path, sizeof path, "/proc/%d/comm", (int)kid);
  for (int i = 0; i < 200 && strcmp(comm, "sleep\n"); i++) {
    FILE *f = fopen(path, "r");
    if (f) {
      if (!fgets(comm, sizeof comm, f)) comm[0] = 0;
      fclose(f);
    }
    usleep(10 * 1000);
  }
  ck_assert_str_eq(comm, "sleep\n");
  ck_assert_int_eq(kill(parent, SIGKILL), 0);
  int st = 0;
  ck_assert_int_eq(waitpid(parent, &st, 0), parent);
  /* the orphan is ours now; without the guard it would sleep its 60 s */
  time_t end = time(NULL) + 5;
  pid_t r = 0;
  while ((r = waitpid(kid, &st, WNOHANG)) == 0 && time(NULL) < end) usleep(10 * 1000);
  if (r == 0) kill(kid, SIGKILL), waitpid(kid, &st, 0);
  ck_assert_msg(r == kid, "the child outlived its parent by 5 s");
  ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}
END_TEST

/* A wrapper whose parent is not the one named (it died before the guard was
 * set, and we were re-parented) runs nothing and exits 0. */
START_TEST(nothing_runs_when_the_parent_is_gone) {
  char dir[256], mark[300];
  tmpdir_make(dir, sizeof dir, "otahil-guard");
  snprintf(mark, sizeof mark, "%s/ran", dir);
  char *argv[] = {"/usr/bin/touch", mark, NULL};
  char **g = child_guard_argv(argv);
  ck_assert_ptr_nonnull(g);
  char other[32];
  snprintf(other, sizeof other, "%d", (int)getppid()); /* alive, but not its parent */
  free(g[1]);
  g[1] = strdup(other);
  int st = 0;
  pid_t pid = spawn(g);
  ck_assert_int_eq(waitpid(pid, &st, 0), pid);
  ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  ck_assert_int_ne(access(mark, F_OK), 0);
  /* and with the right parent it does run */
  free(g[1]);
  snprintf(other, sizeof other, "%d", (int)getpid());
  g[1] = strdup(other);
  pid = spawn(g);
  ck_assert_int_eq(waitpid(pid, &st, 0), pid);
  ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  ck_assert_int_eq(access(mark, F_OK), 0);
  child_guard_free(g);
  ck_assert_int_eq(remove(mark), 0);
  tmpdir_remove(dir);
}
END_TEST


/* ---- the device supervisor (otahil-child --tree) -------------------------- */

START_TEST(tree_argv_runs_the_supervisor) {
  char *argv[] = {"/bin/echo", "x", NULL};
  char **g = child_guard_tree_argv(argv);
  ck_assert_ptr_nonnull(g);
  ck_assert_msg(strstr(g[0], "/otahil-child") != NULL, "%s", g[0]);
  ck_assert_str_eq(g[1], "--tree");
  ck_assert_int_eq(strtol(g[2], NULL, 10), getpid());
  ck_assert_str_eq(g[3], "/bin/echo");
  ck_assert_str_eq(g[4], "x");
  ck_assert_ptr_null(g[5]);
  child_guard_free(g);
}
END_TEST

/* Runs argv under the supervisor; returns its wait status. */
static int supervised_status(char **argv, int sig_after_ms, int sig) {
  char **g = child_guard_tree_argv(argv);
  ck_assert_ptr_nonnull(g);
  pid_t pid = spawn(g);
  child_guard_free(g);
  if (sig_after_ms) {
    usleep((useconds_t)sig_after_ms * 1000);
    kill(pid, sig);
  }
  int st = 0;
  ck_assert_int_eq(waitpid(pid, &st, 0), pid);
  return st;
}

/* The pid otahil waits on is the supervisor's: its exit must read as the
 * program's own (a code, a signal it died of, the cut's SIGKILL). */
START_TEST(the_supervisor_exits_as_the_program_did) {
  char *code[] = {"/bin/sh", "-c", "exit 7", NULL};
  int st = supervised_status(code, 0, 0);
  ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 7);
  char *term[] = {"/bin/sh", "-c", "kill -TERM $$; sleep 5", NULL};
  st = supervised_status(term, 0, 0);
  ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
  char *sleeper[] = {"/bin/sleep", "30", NULL};
  st = supervised_status(sleeper, 200, CHILD_TREE_CUT);
  ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  st = supervised_status(sleeper, 200, SIGTERM); /* sent on to the program */
  ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
  char *missing[] = {"/nonexistent/prog", NULL};
  st = supervised_status(missing, 0, 0);
  ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 127);
}
END_TEST

static void mark_of(char *mark, size_t len, const char *what) {
  snprintf(mark, len, "otahil-guard-%s-%d-%ld", what, (int)getpid(), (long)time(NULL));
}

/* Waits (at most 10 s) until at least `want` processes carry the mark, five
 * looks in a row: a short-lived one (the daemon's first fork) can make the
 * count reach `want` before the last of the lasting ones has started. */
static int wait_marked(const char *mark, int want) {
  int ok = 0;
  for (int i = 0; i < 1000 && ok < 5; i++) {
    ok = tree_procs(mark, 0) >= want ? ok + 1 : 0;
    usleep(10 * 1000);
  }
  return tree_procs(mark, 0);
}

/* Waits (at most 5 s) until none does; returns how many are left (and kills them). */
static int wait_unmarked(const char *mark) {
  for (int i = 0; i < 500 && tree_procs(mark, 0) > 0; i++) usleep(10 * 1000);
  int left = tree_procs(mark, 0);
  tree_procs(mark, 1);
  return left;
}

/* otahil killed (SIGKILL): the supervisor's parent-death signal cuts the whole
 * tree, the setsid'd daemon and the child that ignores SIGTERM included. */
START_TEST(the_tree_dies_with_its_parent) {
  char mark[128], dev[512];
  mark_of(mark, sizeof mark, "parent");
  snprintf(dev, sizeof dev, "%s", TREE_DEVICE);
  pid_t parent = fork();
  ck_assert_int_ge(parent, 0);
  if (parent == 0) {
    char *argv[] = {dev, mark, NULL};
    char **g = child_guard_tree_argv(argv);
    if (!g) _exit(2);
    spawn(g);
    for (;;) pause(); /* until killed */
  }
  int n = wait_marked(mark, 4);
  kill(parent, SIGKILL);
  waitpid(parent, NULL, 0);
  int left = wait_unmarked(mark);
  ck_assert_int_ge(n, 4);
  ck_assert_msg(left == 0, "%d process(es) of the tree outlived its parent by 5 s", left);
}
END_TEST

/* A program that forks without pause while it is cut: freeze-then-kill leaves
 * nothing that forked away meanwhile. */
START_TEST(a_forking_tree_is_cut_whole) {
  char mark[128], env[200];
  mark_of(mark, sizeof mark, "forks");
  snprintf(env, sizeof env, "OTAHIL_TEST_MARK=%s", mark);
  char *argv[] = {"/usr/bin/env", env, "/bin/sh", "-c", "while :; do (sleep 60 &); done", NULL};
  char **g = child_guard_tree_argv(argv);
  ck_assert_ptr_nonnull(g);
  pid_t pid = spawn(g);
  child_guard_free(g);
  int n = wait_marked(mark, 30);
  kill(pid, CHILD_TREE_CUT);
  int st = 0;
  time_t end = time(NULL) + 10;
  pid_t r = 0;
  while ((r = waitpid(pid, &st, WNOHANG)) == 0 && time(NULL) < end) usleep(10 * 1000);
  if (r == 0) kill(pid, SIGKILL), waitpid(pid, &st, 0);
  int left = wait_unmarked(mark);
  ck_assert_int_ge(n, 30);
  ck_assert_msg(r == pid, "the supervisor did not exit within 10 s of the cut");
  ck_assert_msg(left == 0, "%d process(es) forked away from the cut", left);
}
END_TEST

int main(void) {
  Suite *s = suite_create("child_guard");
  TCase *tc = tcase_create("guard");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, check_exec_says_what_exec_would);
  tcase_add_test(tc, argv_runs_the_program_through_the_wrapper);
  tcase_add_test(tc, the_child_dies_with_its_parent);
  tcase_add_test(tc, nothing_runs_when_the_parent_is_gone);
  tcase_add_test(tc, tree_argv_runs_the_supervisor);
  tcase_add_test(tc, the_supervisor_exits_as_the_program_did);
  tcase_add_test(tc, the_tree_dies_with_its_parent);
  tcase_add_test(tc, a_forking_tree_is_cut_whole);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
