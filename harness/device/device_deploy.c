#include "device_deploy.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child_spawn.h"
#include "lab_placeholders.h"

/* After the command exits, what a child it left behind may still write to
 * the pipes is read this long; the deploy does not wait for that child. */
#define DRAIN_MS 300
#define OUT_MAX 65536 /* output bytes logged per deploy; the rest is counted, not kept */

typedef enum { S_KICK, S_WAITING, S_RUNNING, S_ENDED } stage;

typedef struct drun drun;

typedef struct stream {
  uv_pipe_t pipe;
  drun *r;
  const char *name;
  char buf[4096]; /* what one read gets */
  char line[1024];
  size_t len;
  int open;
} stream;

struct drun {
  device_deploy *dp;
  evlog *log; /* NULL once stopped: nothing is logged after device_deploy_stop */
  char **argv;
  double timeout, ready_s;
  device_deploy_ready_fn ready;
  void *ready_arg;
  device_deploy_cb done;
  void *arg;
  uv_timer_t timer; /* the kick, then the wait for power off, the timeout, the drain */
  uv_check_t check; /* asks ready() after every loop turn while waiting */
  uv_process_t proc;
  stream out, err;
  int handles; /* open handles; the run is freed when the last one is closed */
  stage st;
  int piped, spawned, exited, timed_out, stopped;
  int pid; /* the command's, and so its session's and process group's id */
  int64_t status;
  int sig;
  uint64_t t0;
  size_t logged, cut;
  char why[512];  /* why it failed before or instead of running */
  char last[160]; /* the last stderr line, for the one-line message */
};

struct device_deploy {
  uv_loop_t *loop;
  const lab_device *lab;
  const char *lab_file;
  drun *run; /* until all its handles are closed */
  int freeing;
};

device_deploy *device_deploy_new(uv_loop_t *loop, const lab_device *lab, const char *lab_file) {
  if (!lab->deploy.on) return NULL;
  device_deploy *dp = calloc(1, sizeof *dp);
  if (!dp) abort();
  dp->loop = loop;
  dp->lab = lab;
  dp->lab_file = lab_file;
  return dp;
}

/* ---- closing ------------------------------------------------------------- */

static void run_free(drun *r) {
  device_deploy *dp = r->dp;
  for (char **a = r->argv; a && *a; a++) free(*a);
  free(r->argv);
  if (dp->run == r) dp->run = NULL;
  free(r);
  if (dp->freeing && !dp->run) free(dp);
}

static void on_closed(uv_handle_t *h) {
  drun *r = h->data;
  if (--r->handles == 0) run_free(r);
}

static void close_one(drun *r, uv_handle_t *h) {
  if (uv_is_closing(h)) return;
  h->data = r;
  uv_close(h, on_closed);
}

/* Everything but the process, which closes once reaped (on_proc_exit). */
static void close_all(drun *r) {
  close_one(r, (uv_handle_t *)&r->timer);
  close_one(r, (uv_handle_t *)&r->check);
  if (r->piped) {
    close_one(r, (uv_handle_t *)&r->out.pipe);
    close_one(r, (uv_handle_t *)&r->err.pipe);
  }
}

/* ---- events -------------------------------------------------------------- */

static double seconds(const drun *r) { return r->t0 ? (double)(uv_hrtime() - r->t0) / 1e9 : 0; }

static cJSON *event(drun *r, const char *kind) {
  cJSON *ev = evlog_add(r->log, kind);
  cJSON_AddStringToObject(ev, "device", r->dp->lab->name);
  return ev;
}

static void out_line(stream *s) {
  drun *r = s->r;
  while (s->len && (s->line[s->len - 1] == ' ' || s->line[s->len - 1] == '\t')) s->len--;
  s->line[s->len] = 0;
  size_t n = s->len;
  s->len = 0;
  if (!n) return;
  if (s == &r->err) snprintf(r->last, sizeof r->last, "%.*s", (int)sizeof r->last - 1, s->line); /* cut long lines */
  if (!r->log) return;
  if (r->logged >= OUT_MAX) {
    r->cut += n;
    return;
  }
  r->logged += n;
  cJSON *ev = event(r, "deploy.out");
  cJSON_AddStringToObject(ev, "stream", s->name);
  cJSON_AddStringToObject(ev, "line", s->line);
  evlog_commit(r->log);
}

/* ---- the end ------------------------------------------------------------- */

/* The command exited, but what it started in its session may run on (`sh -c
 * "tool &"`, a gdbserver holding the debug probe): nothing of a deploy may
 * outlive it. Its group is still there while any member is, so the id cannot
 * have been taken by another process group. Returns 1 if something was left. */
static int kill_leftovers(drun *r) {
  if (!r->spawned || !r->exited || r->pid <= 1) return 0;
  return kill(-(pid_t)r->pid, SIGKILL) == 0;
}

/* Logs the outcome, closes what is open and tells the case (not after a stop). */
static void end(drun *r) {
  if (r->st == S_ENDED) return;
  r->st = S_ENDED;
  double secs = seconds(r);
  for (stream *s = &r->out; s; s = s == &r->out ? &r->err : NULL)
    if (s->len) out_line(s);
  /* after a timeout or a stop the group was killed already: no note then */
  if (kill_leftovers(r) && r->log && !r->timed_out && !r->stopped) {
    cJSON *ev = event(r, "deploy.out");
    cJSON_AddStringToObject(ev, "stream", "both");
    char note[160];
    snprintf(note, sizeof note, "(the command exited, but processes it started still ran: killed its process group %d)",
             r->pid);
    cJSON_AddStringToObject(ev, "line", note);
    evlog_commit(r->log);
  }
  char what[512];
  int ok = 0;
  if (r->why[0]) snprintf(what, sizeof what, "deploy: %.400s", r->why);
  else if (r->timed_out) snprintf(what, sizeof what, "deploy did not finish within %.3g s (killed)", r->timeout);
  else if (r->sig) snprintf(what, sizeof what, "deploy was killed by signal %d after %.1f s", r->sig, secs);
  else if (r->status) snprintf(what, sizeof what, "deploy exited %lld after %.1f s", (long long)r->status, secs);
  else ok = 1;
  if (r->log) {
    if (r->cut) {
      cJSON *ev = event(r, "deploy.out");
      cJSON_AddStringToObject(ev, "stream", "both");
      char note[96];
      snprintf(note, sizeof note, "(%zu more bytes of output not logged)", r->cut);
      cJSON_AddStringToObject(ev, "line", note);
    }
    cJSON *ev = event(r, "deploy");
    cJSON_AddStringToObject(ev, "state", ok ? "done" : "failed");
    cJSON_AddNumberToObject(ev, "seconds", secs);
    if (r->exited && !r->sig) cJSON_AddNumberToObject(ev, "status", (double)r->status);
    if (r->sig) cJSON_AddNumberToObject(ev, "signal", r->sig);
    if (!ok) cJSON_AddStringToObject(ev, "error", what);
    evlog_commit(r->log);
  }
  close_all(r);
  if (r->stopped || !r->done) return;
  device_deploy *dp = r->dp;
  char msg[1024];
  if (!ok)
    snprintf(msg, sizeof msg, "%s:%d: device '%s': %s%s%s (see the case log)", dp->lab_file, dp->lab->line,
             dp->lab->name, what, r->last[0] ? ": " : "", r->last);
  device_deploy_cb done = r->done;
  r->done = NULL;
  done(r->arg, ok ? 0 : -1, ok ? NULL : msg);
}

__attribute__((format(printf, 2, 3))) static void fail(drun *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->why, sizeof r->why, fmt, ap);
  va_end(ap);
  end(r);
}

/* The command is over once it exited and its output is read (or drained). */
static void maybe_end(drun *r) {
  if (r->exited && !r->out.open && !r->err.open) end(r);
}

/* ---- the command --------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  stream *s = h->data;
  (void)size;
  *buf = uv_buf_init(s->buf, sizeof s->buf);
}

static void on_read(uv_stream_t *h, ssize_t n, const uv_buf_t *buf) {
  stream *s = h->data;
  drun *r = s->r;
  for (ssize_t i = 0; i < n; i++) {
    char c = buf->base[i];
    /* flashing tools draw progress bars with \r: each redraw is a line */
    if (c == '\n' || c == '\r') out_line(s);
    else if (s->len + 1 < sizeof s->line) s->line[s->len++] = c;
  }
  if (n < 0) { /* EOF or an error: either way nothing more comes */
    if (s->len) out_line(s);
    uv_read_stop(h);
    s->open = 0;
    maybe_end(r);
  }
}

static void on_drain(uv_timer_t *t) {
  drun *r = t->data;
  r->out.open = r->err.open = 0;
  maybe_end(r);
}

static void on_proc_exit(uv_process_t *p, int64_t status, int sig) {
  drun *r = p->data;
  r->exited = 1;
  r->status = status;
  r->sig = sig; /* after a timeout or a stop: our SIGKILL */
  close_one(r, (uv_handle_t *)p);
  uv_timer_stop(&r->timer);
  if (r->stopped) {
    r->out.open = r->err.open = 0;
    end(r);
    return;
  }
  if (r->out.open || r->err.open) uv_timer_start(&r->timer, on_drain, DRAIN_MS, 0);
  maybe_end(r);
}

static void kill_group(drun *r) {
  if (!r->spawned || r->exited) return;
  /* its own session (UV_PROCESS_DETACHED): the group is the command and what it started */
  kill(-(pid_t)r->pid, SIGKILL);
  uv_process_kill(&r->proc, SIGKILL);
}

static void on_timeout(uv_timer_t *t) {
  drun *r = t->data;
  r->timed_out = 1;
  kill_group(r); /* on_proc_exit ends it once reaped */
}

static void stream_init(drun *r, stream *s, const char *name) {
  uv_pipe_init(r->dp->loop, &s->pipe, 0);
  r->handles++;
  s->pipe.data = s;
  s->r = r;
  s->name = name;
  s->open = 1;
}

static void spawn(drun *r) {
  r->st = S_RUNNING;
  uv_check_stop(&r->check);
  uv_timer_stop(&r->timer);
  stream_init(r, &r->out, "stdout");
  stream_init(r, &r->err, "stderr");
  r->piped = 1;
  if (r->log) {
    cJSON *ev = event(r, "deploy");
    cJSON_AddStringToObject(ev, "state", "start");
    cJSON *argv = cJSON_AddArrayToObject(ev, "argv");
    for (char **a = r->argv; *a; a++) cJSON_AddItemToArray(argv, cJSON_CreateString(*a));
    cJSON_AddNumberToObject(ev, "timeout", r->timeout);
    evlog_commit(r->log);
  }
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE; /* /dev/null */
  stdio[1].flags = stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&r->out.pipe;
  stdio[2].data.stream = (uv_stream_t *)&r->err.pipe;
  /* through otahil-child (child_spawn.h): the command dies with a killed otahil and
   * gets none of otahil's descriptors (its MQTT sockets); in its own session, so
   * Ctrl-C reaches the harness only and a timeout kills its whole process group */
  child_spawn_opts so = {.argv = r->argv, .stdio = stdio, .stdio_count = 3, .exit_cb = on_proc_exit};
  r->proc.data = r;
  r->t0 = uv_hrtime(); /* uv_spawn returns once the command is exec'd: count that too */
  int spawned, guarded;
  int rc = child_spawn(r->dp->loop, &r->proc, &so, &spawned, &guarded);
  if (rc != 0 && !spawned) { /* a missing flasher is "cannot run", not a wrapper that exits 127 */
    r->out.open = r->err.open = 0;
    fail(r, "cannot run '%s': %s", r->argv[0], uv_strerror(rc));
    return;
  }
  r->handles++;
  if (rc != 0) {
    close_one(r, (uv_handle_t *)&r->proc);
    r->out.open = r->err.open = 0;
    fail(r, "cannot run '%s': %s", r->argv[0], uv_strerror(rc));
    return;
  }
  r->spawned = 1;
  r->pid = r->proc.pid;
  uv_read_start((uv_stream_t *)&r->out.pipe, on_alloc, on_read);
  uv_read_start((uv_stream_t *)&r->err.pipe, on_alloc, on_read);
  uv_timer_start(&r->timer, on_timeout, (uint64_t)(r->timeout * 1000.0), 0);
}

/* ---- waiting for power off ----------------------------------------------- */

static void poll_ready(drun *r) {
  int rc = r->ready ? r->ready(r->ready_arg) : 1;
  if (rc > 0) spawn(r);
  else if (rc < 0) fail(r, "the power is not off (a power call failed)");
}

static void on_check(uv_check_t *c) { poll_ready(c->data); }

static void on_ready_limit(uv_timer_t *t) {
  drun *r = t->data;
  fail(r, "the power was not off within %.3g s", r->ready_s);
}

/* The first look is from the loop, so that done() never runs inside start. */
static void on_kick(uv_timer_t *t) {
  drun *r = t->data;
  r->st = S_WAITING;
  poll_ready(r);
  if (r->st != S_WAITING) return;
  uv_check_start(&r->check, on_check);
  uv_timer_start(&r->timer, on_ready_limit, (uint64_t)(r->ready_s * 1000.0), 0);
}

int device_deploy_start(device_deploy *dp, evlog *log, const device_vars *vars, device_deploy_ready_fn ready,
                        void *ready_arg, double ready_s, device_deploy_cb done, void *arg, char *err,
                        size_t errlen) {
  if (dp->run) {
    snprintf(err, errlen, "device '%s': deploy: the last one is still running", dp->lab->name);
    return -1;
  }
  /* the device's placeholders, then {image} */
  const char *pairs[2 * 64 + 3];
  int n = 0;
  for (int i = 0; i < vars->n; i++) {
    pairs[n++] = vars->keys[i];
    pairs[n++] = vars->values[i] ? vars->values[i] : "";
  }
  const char *image = dp->lab->base_image;
  if (image) { /* without base_image, {image} is unknown (lab_deploy.c says so at load) */
    pairs[n++] = "image";
    pairs[n++] = image;
  }
  pairs[n] = NULL;
  char why[256];
  size_t bad = 0;
  char **argv = lab_expand_all(dp->lab->deploy.cmd.n, dp->lab->deploy.cmd.v, NULL, pairs, &bad, why, sizeof why);
  if (!argv) {
    snprintf(err, errlen, "%s:%d: device '%s': deploy.cmd[%zu] %s", dp->lab_file, dp->lab->line, dp->lab->name,
             bad + 1, why);
    return -1;
  }
  drun *r = calloc(1, sizeof *r);
  if (!r) abort();
  r->dp = dp;
  r->log = log;
  r->argv = argv;
  r->timeout = dp->lab->deploy.timeout_s;
  r->ready = ready;
  r->ready_arg = ready_arg;
  r->ready_s = ready_s > 0 ? ready_s : 60;
  r->done = done;
  r->arg = arg;
  uv_timer_init(dp->loop, &r->timer);
  uv_check_init(dp->loop, &r->check);
  r->timer.data = r->check.data = r;
  r->handles = 2;
  dp->run = r;
  uv_timer_start(&r->timer, on_kick, 0, 0);
  return 0;
}

void device_deploy_stop(device_deploy *dp) {
  drun *r = dp ? dp->run : NULL;
  if (!r || r->stopped || r->st == S_ENDED) return;
  r->stopped = 1;
  if (r->log && r->spawned) {
    cJSON *ev = event(r, "deploy");
    cJSON_AddStringToObject(ev, "state", "killed");
    cJSON_AddNumberToObject(ev, "seconds", seconds(r));
    cJSON_AddStringToObject(ev, "why", "the case was stopped");
    evlog_commit(r->log);
  }
  r->log = NULL;
  if (r->spawned && !r->exited) {
    kill_group(r); /* on_proc_exit ends it once reaped */
    return;
  }
  end(r);
}

int device_deploy_busy(const device_deploy *dp) { return dp && dp->run != NULL; }

void device_deploy_free(device_deploy *dp) {
  if (!dp) return;
  device_deploy_stop(dp);
  dp->freeing = 1;
  if (!dp->run) free(dp);
}
