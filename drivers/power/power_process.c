#include "power_process.h"

#include "child_guard.h"
#include "child_spawn.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* After a cut, how long the supervisor may take to reap the tree before it is
 * killed itself (it never should: this is for a tree stuck in the kernel). */
#define CUT_WAIT_MS 5000

struct power_process {
  uv_loop_t *loop;
  char **argv;
  char **env; /* NULL: the harness's environment; else it with these NAME=value added */
  int stdio_fd;
  uv_process_t *proc; /* NULL while off */
  int tree;           /* proc is otahil-child --tree, the supervisor of the device's tree */
  int cut;            /* the cut was sent: the next timer kills the supervisor itself */
  uv_timer_t *grace;
  power_process_exit_cb cb;
  void *arg;
  int freeing;
};

static void free_handle(uv_handle_t *h) { free(h); }

static void pp__maybe_free(power_process *p) {
  if (!p->freeing || p->proc) return;
  if (p->grace) uv_close((uv_handle_t *)p->grace, free_handle);
  for (char **a = p->argv; *a; a++) free(*a);
  free(p->argv);
  for (char **e = p->env; e && *e; e++) free(*e);
  free(p->env);
  free(p);
}

extern char **environ;

/* The harness's environment with p->env's NAME=value pairs put over it (the
 * array, not its strings, is allocated; NULL when p->env is NULL). */
static char **pp__environment(const power_process *p) {
  if (!p->env) return NULL;
  size_t n = 0, m = 0;
  while (environ[n]) n++;
  while (p->env[m]) m++;
  char **out = calloc(n + m + 1, sizeof *out);
  if (!out) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    size_t len = strcspn(environ[i], "=");
    int overridden = 0;
    for (size_t j = 0; j < m && !overridden; j++)
      overridden = strncmp(p->env[j], environ[i], len) == 0 && p->env[j][len] == '=';
    if (!overridden) out[k++] = environ[i];
  }
  for (size_t j = 0; j < m; j++) out[k++] = p->env[j];
  return out;
}

int power_process_set_env(power_process *p, char *const env[]) {
  size_t m = 0;
  while (env && env[m]) m++;
  char **copy = calloc(m + 1, sizeof *copy);
  if (!copy) return -1;
  for (size_t j = 0; j < m; j++) {
    if (!strchr(env[j], '=') || env[j][0] == '=' || !(copy[j] = strdup(env[j]))) {
      for (size_t i = 0; i < j; i++) free(copy[i]);
      free(copy);
      return -1;
    }
  }
  for (char **e = p->env; e && *e; e++) free(*e);
  free(p->env);
  p->env = copy;
  return 0;
}

static void pp__exit(uv_process_t *proc, int64_t status, int sig) {
  power_process *p = proc->data;
  uv_close((uv_handle_t *)proc, free_handle);
  p->proc = NULL;
  if (p->grace) uv_timer_stop(p->grace);
  if (!p->freeing && p->cb) p->cb(p->arg, status, sig);
  pp__maybe_free(p);
}

power_process *power_process_new(uv_loop_t *loop, char *const argv[], int stdio_fd,
                                 power_process_exit_cb cb, void *arg) {
  power_process *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  size_t n = 0;
  while (argv[n]) n++;
  p->argv = calloc(n + 1, sizeof *p->argv);
  if (!p->argv) {
    free(p);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) p->argv[i] = strdup(argv[i]);
  p->loop = loop;
  p->stdio_fd = stdio_fd;
  p->cb = cb;
  p->arg = arg;
  return p;
}

int power_process_on(power_process *p, char *err, size_t errlen) {
  if (p->proc) return 0;
  uv_process_t *proc = calloc(1, sizeof *proc);
  if (!proc) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  uv_stdio_container_t stdio[3];
  for (int i = 0; i < 3; i++) {
    stdio[i].flags = p->stdio_fd >= 0 ? UV_INHERIT_FD : UV_IGNORE;
    stdio[i].data.fd = p->stdio_fd;
  }
  /* Through otahil-child --tree, the supervisor of the device's whole process
   * tree (child_tree.h): power off reaches every process the device started,
   * setsid'd daemons and children that ignore SIGTERM included, and the tree
   * dies with the harness even when the harness is killed (SIGKILL): a device
   * left running would retry its dead proxies for ever. Exec is checked first,
   * so that a missing program is still an error here, not a child that exits
   * 127. */
  char **envp = pp__environment(p);
  child_spawn_opts so = {.argv = p->argv, .tree = 1, .stdio = stdio, .stdio_count = 3, .env = envp,
                         .exit_cb = pp__exit};
  proc->data = p;
  int spawned, guarded;
  int rc = child_spawn(p->loop, proc, &so, &spawned, &guarded);
  free(envp);
  if (rc != 0) {
    snprintf(err, errlen, "cannot start '%s': %s", p->argv[0], uv_strerror(rc));
    if (spawned) uv_close((uv_handle_t *)proc, free_handle);
    else free(proc);
    return -1;
  }
  p->proc = proc;
  p->tree = guarded;
  p->cut = 0;
  return 0;
}

static void pp__timer(power_process *p, unsigned ms);

/* The hard cut: the supervisor SIGKILLs the whole tree and exits once it is
 * reaped (a guard timer kills the supervisor itself should it not); a program
 * started without one is SIGKILLed. */
static void pp__cut(power_process *p) {
  if (!p->tree) {
    uv_process_kill(p->proc, SIGKILL);
    return;
  }
  /* again while a cut goes on: never SIGKILL early, that would orphan a tree
   * the supervisor has stopped and not killed yet */
  uv_process_kill(p->proc, CHILD_TREE_CUT);
  if (p->cut) return;
  p->cut = 1;
  pp__timer(p, CUT_WAIT_MS);
}

static void pp__timer_cb(uv_timer_t *t) {
  power_process *p = t->data;
  if (!p->proc) return;
  if (p->cut) uv_process_kill(p->proc, SIGKILL); /* the last resort: the supervisor is stuck */
  else pp__cut(p);                              /* the grace is over */
}

static void pp__timer(power_process *p, unsigned ms) {
  if (!p->grace) {
    p->grace = malloc(sizeof *p->grace);
    if (!p->grace) abort();
    uv_timer_init(p->loop, p->grace);
    p->grace->data = p;
  }
  uv_timer_start(p->grace, pp__timer_cb, ms, 0);
}

int power_process_off(power_process *p, int graceful, unsigned grace_ms) {
  if (!p->proc) return 1;
  if (!graceful) {
    pp__cut(p);
    return 0;
  }
  /* the supervisor sends it on to every process of the tree */
  uv_process_kill(p->proc, SIGTERM);
  if (!p->cut) pp__timer(p, grace_ms);
  return 0;
}

int power_process_is_on(const power_process *p) { return p->proc != NULL; }
int power_process_pid(const power_process *p) { return p->proc ? p->proc->pid : 0; }

void power_process_free(power_process *p) {
  if (!p) return;
  p->freeing = 1;
  if (p->proc) pp__cut(p);
  pp__maybe_free(p);
}
