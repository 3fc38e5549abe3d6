/* exec: power through commands, as LAVA labs drive anything (a relay tool, a
 * PDU client, ipmitool). No shell: each command is an argv list whose
 * {placeholders} are filled in; exit status 0 is success; at the timeout the
 * command's whole process group is killed. A command may leave a background
 * process behind (e.g. one that starts a board emulator): the call ends when the
 * command itself exits, not when its output closes. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "power_int.h"

#define OUT_MAX 65536

static const char *const argv_keys[] = {"on", "off", "cycle", "state", NULL};

static int exec_check(const cJSON *cfg, char *err, size_t errlen) {
  if (power__check_argv(cfg, "on", 1, err, errlen) || power__check_argv(cfg, "off", 1, err, errlen) ||
      power__check_argv(cfg, "cycle", 0, err, errlen) || power__check_argv(cfg, "state", 0, err, errlen))
    return -1;
  /* the other keys are placeholders of the commands */
  for (const cJSON *k = cfg->child; k; k = k->next) {
    int reserved = strcmp(k->string, "driver") == 0 || strcmp(k->string, "timeout") == 0 ||
                   strcmp(k->string, "at_exit") == 0;
    for (int i = 0; argv_keys[i]; i++) reserved |= strcmp(k->string, argv_keys[i]) == 0;
    if (!reserved && !cJSON_IsString(k) && !cJSON_IsNumber(k)) {
      snprintf(err, errlen, "power.%s must be a string or a number (a {%s} placeholder of the commands)",
               k->string, k->string);
      return -1;
    }
  }
  return 0;
}

typedef struct capture {
  char *buf;
  size_t len;
} capture;

/* Reads what is there; *open = 0 at EOF. Returns 1 if bytes were read. */
static int cap_read(int fd, capture *c, int *open) {
  char tmp[4096];
  ssize_t n = read(fd, tmp, sizeof tmp);
  if (n > 0) {
    size_t keep = (size_t)n;
    if (c->len + keep > OUT_MAX) keep = OUT_MAX - c->len;
    memcpy(c->buf + c->len, tmp, keep);
    c->len += keep;
    c->buf[c->len] = 0;
    return 1;
  }
  if (n == 0 || (errno != EAGAIN && errno != EINTR)) *open = 0;
  return 0;
}

/* Starts argv in its own process group, stdin /dev/null, stdout and stderr to
 * the pipes' write ends (closed here). Returns the pid, or -1 with err. */
static pid_t spawn_cmd(char *const argv[], int out_w, int err_w, char *err, size_t errlen) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_w, 1);
  posix_spawn_file_actions_adddup2(&fa, err_w, 2);
  /* nothing of the harness (sockets, the console's terminal) leaks into it */
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  /* worker threads block every signal; the command must not inherit that.
   * Its own process group: a timeout kills whatever it started too. */
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &all);
  posix_spawnattr_setpgroup(&at, 0);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(out_w);
  close(err_w);
  if (rc != 0) {
    snprintf(err, errlen, "cannot run '%s': %s", argv[0], strerror(rc));
    return -1;
  }
  return pid;
}

/* Reads the command's stdout and stderr until it exits or `timeout` passes.
 * Returns 1 if it exited (its wait status in *status), 0 at the timeout. */
static int await_exit(pid_t pid, int fo, int fe, double timeout, capture *so, capture *se, int *status) {
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  int oo = 1, eo = 1, exited = 0;
  double deadline = power__now() + timeout;
  while (!exited) {
    double left = deadline - power__now();
    if (left <= 0) break;
    struct pollfd fds[3] = {{oo ? fo : -1, POLLIN, 0}, {eo ? fe : -1, POLLIN, 0}, {pidfd, POLLIN, 0}};
    /* without a pidfd (old kernels) look for the exit every 20 ms */
    int ms = pidfd >= 0 ? (int)(left * 1000) + 1 : 20;
    if (poll(fds, 3, ms) < 0 && errno != EINTR) break;
    if (fds[0].revents) cap_read(fo, so, &oo);
    if (fds[1].revents) cap_read(fe, se, &eo);
    if (pidfd < 0 || fds[2].revents) {
      pid_t w = waitpid(pid, status, WNOHANG);
      if (w == pid) exited = 1;
    }
  }
  if (exited) { /* what it wrote before exiting; a background child may keep the pipe open */
    while (oo && cap_read(fo, so, &oo)) {
    }
    while (eo && cap_read(fe, se, &eo)) {
    }
  }
  if (pidfd >= 0) close(pidfd);
  return exited;
}

/* 0 for a command that exited with status 0; otherwise -1 and err says how it
 * ended, with the last line of its stderr. A command still running is killed. */
static int judge_exit(char *const argv[], pid_t pid, int exited, int status, double timeout,
                      const capture *se, char *err, size_t errlen) {
  char last[256];
  power__last_line(se->buf, se->len, last, sizeof last);
  const char *sep = last[0] ? ": " : "";
  if (!exited) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    snprintf(err, errlen, "'%s' did not finish within %.3g s (killed)%s%s", argv[0], timeout, sep, last);
  } else if (WIFSIGNALED(status)) {
    snprintf(err, errlen, "'%s' was killed by signal %d%s%s", argv[0], WTERMSIG(status), sep, last);
  } else if (WEXITSTATUS(status) != 0) {
    snprintf(err, errlen, "'%s' exited with status %d%s%s", argv[0], WEXITSTATUS(status), sep, last);
  } else {
    return 0;
  }
  return -1;
}

/* Runs argv; 0 if it exits with status 0 within timeout. stdout is kept in out
 * (NUL-terminated, at most OUT_MAX bytes) when out != NULL. */
static int run(char *const argv[], double timeout, capture *out, char *err, size_t errlen) {
  int po[2] = {-1, -1}, pe[2] = {-1, -1};
  if (pipe2(po, O_CLOEXEC | O_NONBLOCK) != 0 || pipe2(pe, O_CLOEXEC | O_NONBLOCK) != 0) {
    snprintf(err, errlen, "pipe: %s", strerror(errno));
    if (po[0] >= 0) close(po[0]), close(po[1]);
    return -1;
  }
  pid_t pid = spawn_cmd(argv, po[1], pe[1], err, errlen);
  if (pid < 0) {
    close(po[0]);
    close(pe[0]);
    return -1;
  }
  capture so = {calloc(1, OUT_MAX + 1), 0}, se = {calloc(1, OUT_MAX + 1), 0};
  if (!so.buf || !se.buf) abort();
  int status = 0;
  int exited = await_exit(pid, po[0], pe[0], timeout, &so, &se, &status);
  close(po[0]);
  close(pe[0]);
  int result = judge_exit(argv, pid, exited, status, timeout, &se, err, errlen);
  if (out && result == 0) {
    *out = so;
  } else {
    free(so.buf);
  }
  free(se.buf);
  return result;
}

/* Expands the command under `key` and runs it. extra: one more placeholder (cycle's {delay}). */
static int run_key(power *p, const char *key, const power_opts *o, const char *xk, const char *xv,
                   double timeout, capture *out, char *err, size_t errlen) {
  const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(p->cfg, key);
  int argc = cJSON_GetArraySize(cmd);
  /* the call's placeholders plus the extra one */
  size_t nv = 0;
  for (const char *const *v = o->vars; v && v[0] && v[1]; v += 2) nv += 2;
  const char **vars = calloc(nv + 3, sizeof *vars);
  char **argv = calloc((size_t)argc + 1, sizeof *argv);
  if (!vars || !argv) abort();
  if (nv) memcpy(vars, o->vars, nv * sizeof *vars);
  vars[nv] = xk;
  vars[nv + 1] = xk ? xv : NULL;
  power_opts o2 = *o;
  o2.vars = vars;
  int i = 0, rc = 0;
  for (const cJSON *a = cmd->child; a; a = a->next, i++) {
    char why[256];
    argv[i] = power__expand(p, a->valuestring, &o2, 1, why, sizeof why);
    if (!argv[i]) {
      snprintf(err, errlen, "power.%s[%d] %s", key, i + 1, why);
      rc = -1;
      break;
    }
  }
  if (rc == 0) rc = run(argv, timeout, out, err, errlen);
  for (int k = 0; k < argc; k++) free(argv[k]);
  free(argv);
  free(vars);
  return rc;
}

static int exec_on(power *p, const power_opts *o, double timeout, char *err, size_t errlen) {
  return run_key(p, "on", o, NULL, NULL, timeout, NULL, err, errlen);
}

static int exec_off(power *p, const power_opts *o, double timeout, char *err, size_t errlen) {
  return run_key(p, "off", o, NULL, NULL, timeout, NULL, err, errlen);
}

static int exec_cycle(power *p, const power_opts *o, double timeout, char *err, size_t errlen) {
  if (!cJSON_GetObjectItemCaseSensitive(p->cfg, "cycle")) return 1;
  char delay[32];
  snprintf(delay, sizeof delay, "%.15g", o->delay_s);
  return run_key(p, "cycle", o, "delay", delay, timeout + o->delay_s, NULL, err, errlen);
}

static int exec_state(power *p, const power_opts *o, double timeout, power_state_t *st, char *err,
                      size_t errlen) {
  capture out = {0};
  if (run_key(p, "state", o, NULL, NULL, timeout, &out, err, errlen) != 0) return -1;
  char word[32] = "";
  size_t i = 0, n = 0;
  while (i < out.len && (out.buf[i] == ' ' || out.buf[i] == '\t' || out.buf[i] == '\n')) i++;
  while (i < out.len && n + 1 < sizeof word && out.buf[i] != ' ' && out.buf[i] != '\n' &&
         out.buf[i] != '\r' && out.buf[i] != '\t')
    word[n++] = out.buf[i++];
  word[n] = 0;
  free(out.buf);
  if (!strcasecmp(word, "on") || !strcmp(word, "1") || !strcasecmp(word, "true")) *st = POWER_ON;
  else if (!strcasecmp(word, "off") || !strcmp(word, "0") || !strcasecmp(word, "false")) *st = POWER_OFF;
  else {
    snprintf(err, errlen, "power.state printed '%s' (expected on or off)", word);
    return -1;
  }
  return 0;
}

static int exec_can_tell(const power *p) { return cJSON_GetObjectItemCaseSensitive(p->cfg, "state") != NULL; }

const power_ops power_exec_ops = {
    .name = "exec",
    .keys = NULL, /* free keys are placeholders */
    .check = exec_check,
    .on = exec_on,
    .off = exec_off,
    .cycle = exec_cycle,
    .state = exec_state,
    .can_tell = exec_can_tell,
};
