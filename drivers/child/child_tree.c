/* child_tree: the device supervisor of otahil-child (see child_tree.h).
 *
 * The tree is found in /proc: every process whose parent chain reaches this
 * one. As a subreaper, this process inherits every orphan of the tree, so the
 * chain never breaks while it lives. Signals go through pidfds where the
 * kernel has them (pidfd_open, Linux 5.3): the parent chain is checked again
 * on the pidfd, so a pid that was freed and reused meanwhile by a process
 * outside the tree is never signalled. */
#include "child_tree.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child_guard.h"

typedef struct plist {
  pid_t *pid;
  size_t n, cap;
} plist;

static int plist_has(const plist *l, pid_t pid) {
  for (size_t i = 0; i < l->n; i++)
    if (l->pid[i] == pid) return 1;
  return 0;
}

static void plist_add(plist *l, pid_t pid) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    pid_t *np = realloc(l->pid, cap * sizeof *np);
    if (!np) abort();
    l->pid = np;
    l->cap = cap;
  }
  l->pid[l->n++] = pid;
}

/* The parent of pid from /proc/pid/stat ("pid (comm) state ppid ..."; comm
 * may hold spaces and parentheses, so read after the last ')'), or -1. */
static pid_t ppid_of(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')'), *end;
  if (!p || strlen(p) < 5) return -1; /* ") S 1" at least */
  long ppid = strtol(p + 4, &end, 10);
  return end == p + 4 || ppid < 0 ? -1 : (pid_t)ppid;
}

/* Every process below `root` now: a scan of /proc for (pid, ppid), then the
 * pids whose parent is root or already below it, until none is added. */
static plist collect(pid_t root) {
  plist all = {0}, parent = {0}, tree = {0};
  DIR *d = opendir("/proc");
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end || pid <= 0 || pid == root) continue;
    pid_t pp = ppid_of((pid_t)pid);
    if (pp <= 0) continue;
    plist_add(&all, (pid_t)pid);
    plist_add(&parent, pp);
  }
  if (d) closedir(d);
  for (int added = 1; added;) {
    added = 0;
    for (size_t i = 0; i < all.n; i++)
      if (!plist_has(&tree, all.pid[i]) && (parent.pid[i] == root || plist_has(&tree, parent.pid[i]))) {
        plist_add(&tree, all.pid[i]);
        added = 1;
      }
  }
  free(all.pid);
  free(parent.pid);
  return tree;
}

/* Signals pid if it is still below root (the tree as known is `tree`). */
static int send_to(pid_t pid, int sig, pid_t root, const plist *tree) {
  int fd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return errno == ESRCH ? -1 : kill(pid, sig); /* no pidfds: plain kill */
  pid_t pp = ppid_of(pid);
  int rc = -1;
  if (pp == root || plist_has(tree, pp)) rc = (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
  close(fd);
  return rc;
}

int child_tree_signal(int sig) {
  pid_t self = getpid();
  plist tree = collect(self);
  int n = 0;
  for (size_t i = 0; i < tree.n; i++) n += send_to(tree.pid[i], sig, self, &tree) == 0;
  free(tree.pid);
  return n;
}

/* Freeze, then kill: a stopped process cannot fork, and a fork under way when
 * SIGSTOP arrives is restarted by the kernel after the stop, so each pass
 * stops the processes the last one did not know, until a pass finds none. */
int child_tree_kill(void) {
  pid_t self = getpid();
  plist stopped = {0};
  for (int pass = 0; pass < 1000; pass++) {
    plist now = collect(self);
    int added = 0;
    for (size_t i = 0; i < now.n; i++) {
      if (plist_has(&stopped, now.pid[i])) continue;
      send_to(now.pid[i], SIGSTOP, self, &now);
      plist_add(&stopped, now.pid[i]);
      added = 1;
    }
    free(now.pid);
    if (!added) break;
  }
  plist tree = collect(self);
  int n = 0;
  for (size_t i = 0; i < tree.n; i++) n += send_to(tree.pid[i], SIGKILL, self, &tree) == 0;
  free(tree.pid);
  free(stopped.pid);
  return n;
}

/* Exits as the main process did: its code, or its signal raised again (no
 * core file of ours). */
static void exit_like(int status) {
  if (WIFEXITED(status)) exit(WEXITSTATUS(status));
  int sig = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  signal(sig, SIG_DFL);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  sigprocmask(SIG_UNBLOCK, &one, NULL);
  raise(sig);
  exit(128 + sig); /* a signal whose default is not to end the process */
}

static pid_t start_main(char **argv, const sigset_t *old) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  /* its own process group: a device's kill(0, ...) stays in the device */
  setpgid(0, 0);
  sigprocmask(SIG_SETMASK, old, NULL);
  execvp(argv[0], argv);
  fprintf(stderr, "otahil-child: cannot run %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

typedef struct sup {
  pid_t main;
  int main_done, main_status;
  int graceful; /* a graceful signal came: leftovers may finish until the cut */
} sup;

/* Reaps every child that has exited; returns 1 once none is left. */
static int reap(sup *s) {
  for (;;) {
    int st;
    pid_t pid = waitpid(-1, &st, WNOHANG);
    if (pid > 0) {
      if (pid == s->main) {
        s->main_done = 1;
        s->main_status = st;
        if (!s->graceful) child_tree_kill(); /* what it left behind goes with it */
      }
      continue;
    }
    if (pid < 0 && errno == EINTR) continue;
    return pid < 0 && errno == ECHILD;
  }
}

int child_tree_run(pid_t parent, char **argv) {
  sigset_t set, old;
  sigemptyset(&set);
  int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, CHILD_TREE_CUT};
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaddset(&set, sigs[i]);
  sigprocmask(SIG_BLOCK, &set, &old);
  if (prctl(PR_SET_PDEATHSIG, CHILD_TREE_CUT) != 0 || getppid() != parent) return 0;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) perror("otahil-child: PR_SET_CHILD_SUBREAPER");
  sup s = {0};
  s.main = start_main(argv, &old);
  if (s.main < 0) {
    perror("otahil-child: fork");
    return 127;
  }
  for (;;) {
    int sig = sigwaitinfo(&set, NULL);
    if (sig == CHILD_TREE_CUT) {
      child_tree_kill();
    } else if (sig > 0 && sig != SIGCHLD) {
      s.graceful = 1;
      child_tree_signal(sig);
    }
    if (reap(&s) && s.main_done) exit_like(s.main_status);
  }
}
