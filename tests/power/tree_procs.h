/* tree_procs: the live processes that carry a marker in their environment
 * (OTAHIL_TEST_MARK=<mark>, which tree_device.sh exports to everything it
 * starts), read from /proc; zombies do not count. Header-only, for the power
 * and child tests. */
#ifndef OTAHIL_TESTS_TREE_PROCS_H
#define OTAHIL_TESTS_TREE_PROCS_H

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

static inline int tree_procs__zombie(long pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 1; /* gone */
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  return !p || p[1] == 0 || p[2] == 'Z' || p[2] == 'X';
}

static inline int tree_procs__marked(long pid, const char *want, size_t wantlen) {
  char path[64];
  static char env[65536];
  snprintf(path, sizeof path, "/proc/%ld/environ", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(env, 1, sizeof env, f);
  fclose(f);
  for (size_t i = 0; i + wantlen <= n; i += strlen(env + i) + 1)
    if (memcmp(env + i, want, wantlen) == 0) return 1;
  return 0;
}

/* How many live processes carry the mark; with kill_them, SIGKILLs them too
 * (a test's leftovers: what the old code left running). */
static inline int tree_procs(const char *mark, int kill_them) {
  char want[160];
  int wl = snprintf(want, sizeof want, "OTAHIL_TEST_MARK=%s", mark);
  DIR *d = opendir("/proc");
  struct dirent *e;
  int n = 0;
  while (d && (e = readdir(d)) != NULL) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end || pid <= 0) continue;
    /* the terminating NUL is part of the match: "...=mark" not "...=mark2" */
    if (!tree_procs__marked(pid, want, (size_t)wl + 1) || tree_procs__zombie(pid)) continue;
    n++;
    if (kill_them) kill((pid_t)pid, SIGKILL);
  }
  if (d) closedir(d);
  return n;
}

#endif
