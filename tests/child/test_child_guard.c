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

int main(void) {
  Suite *s = suite_create("child_guard");
  TCase *tc = tcase_create("guard");
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, check_exec_says_what_exec_would);
  tcase_add_test(tc, argv_runs_the_program_through_the_wrapper);
  tcase_add_test(tc, the_child_dies_with_its_parent);
  tcase_add_test(tc, nothing_runs_when_the_parent_is_gone);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
