/* device_power: a device's power state machine (process or board driver), see device_power.h. */
#include "device_power.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab_placeholders.h"
#include "power_process.h"

#define GRACE_MS 2000

typedef device_power_op op_t;
static const char *const op_names[] = {"on", "off", "cycle", "state"};

typedef enum { AT_BEFORE, AT_ON, AT_OFF, AT_LEAVE } at_exit_t;

typedef struct device_power_call job;

struct device_power_call {
  uv_work_t req;
  device_power *pw;
  op_t op;
  double timeout, delay;
  char **vars; /* key, value, ..., NULL: a copy, the thread reads it */
  const char *why; /* NULL: a scenario's call; else "start", "cleanup", "exit" */
  device_power_done_cb done; /* the caller waiting for it, or NULL */
  void *done_arg;
  int rc;
  power_state_t st;
  char err[1024];
  job *next;
};

struct device_power {
  uv_loop_t *loop;
  char *name;
  const lab_device *lab;
  int board;
  evlog *log;
  void (*flush)(void *);
  void *flush_arg;
  /* process */
  power_process *pp;
  int cutting;
  cJSON *argv; /* the last attach's cmd, expanded (t.device.cmd) */
  /* board */
  power *drv;
  job *head, *tail; /* head runs on the pool while `running` */
  int running;
  power_state_t known;  /* what the last call set or read */
  power_state_t before; /* read before the first switch, where the driver can tell */
  int asked_before, touched;
  at_exit_t at_exit;
  char **vars; /* the last attach's placeholders */
  int freeing;
};

/* ---- helpers ------------------------------------------------------------- */

static char **vars_copy(char *const *src) {
  size_t n = 0;
  while (src && src[n]) n++;
  char **v = calloc(n + 1, sizeof *v);
  if (!v) abort();
  for (size_t i = 0; i < n; i++) v[i] = strdup(src[i]);
  return v;
}

static void vars_free(char **v) {
  for (size_t i = 0; v && v[i]; i++) free(v[i]);
  free(v);
}

static void event(device_power *pw, const char *state, const char *how) {
  if (!pw->log) return;
  cJSON *ev = evlog_add(pw->log, "power");
  cJSON_AddStringToObject(ev, "device", pw->name);
  cJSON_AddStringToObject(ev, "state", state);
  cJSON_AddStringToObject(ev, "how", how);
  evlog_commit(pw->log);
}

static void process_exit(void *arg, int64_t status, int sig) {
  device_power *pw = arg;
  if (!pw->log) {
    pw->cutting = 0;
    return;
  }
  if (pw->flush) pw->flush(pw->flush_arg);
  cJSON *ev = evlog_add(pw->log, "power");
  cJSON_AddStringToObject(ev, "device", pw->name);
  cJSON_AddStringToObject(ev, "state", "off");
  cJSON_AddStringToObject(ev, "how", pw->cutting ? "cut" : "exited");
  if (!pw->cutting) {
    cJSON_AddNumberToObject(ev, "status", (double)status);
    if (sig) cJSON_AddNumberToObject(ev, "signal", sig);
  }
  pw->cutting = 0;
  evlog_commit(pw->log);
}

/* ---- life ---------------------------------------------------------------- */

device_power *device_power_new(uv_loop_t *loop, const lab_device *lab, void (*flush)(void *), void *arg,
                               char *err, size_t errlen) {
  device_power *pw = calloc(1, sizeof *pw);
  if (!pw) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  pw->loop = loop;
  pw->lab = lab;
  pw->name = strdup(lab->name);
  pw->flush = flush;
  pw->flush_arg = arg;
  pw->known = pw->before = POWER_UNKNOWN;
  pw->board = lab->kind == LAB_BOARD;
  if (pw->board) {
    const cJSON *cfg = lab->power;
    if (power_new(cfg, lab->name, &pw->drv, err, errlen) != 0) {
      free(pw->name);
      free(pw);
      return NULL;
    }
    const char *at = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, "at_exit"));
    pw->at_exit = !at ? AT_BEFORE : !strcmp(at, "on") ? AT_ON : !strcmp(at, "off") ? AT_OFF : AT_LEAVE;
  }
  return pw;
}

static void job_run(uv_work_t *req);
static void job_done(uv_work_t *req, int status);

static void next_job(device_power *pw) {
  if (pw->running || !pw->head) return;
  pw->running = 1;
  uv_queue_work(pw->loop, &pw->head->req, job_run, job_done);
}

static job *submit(device_power *pw, op_t op, double timeout, double delay, const char *why) {
  job *j = calloc(1, sizeof *j);
  if (!j) abort();
  j->req.data = j;
  j->pw = pw;
  j->op = op;
  j->timeout = timeout > 0 ? timeout : power_timeout(pw->drv);
  j->delay = delay;
  j->vars = vars_copy(pw->vars);
  j->why = why;
  if (op != DEVICE_POWER_STATE) pw->touched = 1;
  if (pw->tail) pw->tail->next = j;
  else pw->head = j;
  pw->tail = j;
  next_job(pw);
  return j;
}

static void job_run(uv_work_t *req) {
  job *j = req->data;
  power *p = j->pw->drv;
  power_opts o = {.timeout_s = j->timeout, .delay_s = j->delay, .vars = (const char *const *)j->vars};
  switch (j->op) {
  case DEVICE_POWER_ON: j->rc = power_on(p, &o, j->err, sizeof j->err); break;
  case DEVICE_POWER_OFF: j->rc = power_off(p, &o, j->err, sizeof j->err); break;
  case DEVICE_POWER_CYCLE: j->rc = power_cycle(p, &o, j->err, sizeof j->err); break;
  case DEVICE_POWER_STATE: j->rc = power_state(p, &o, &j->st, j->err, sizeof j->err); break;
  }
}

static void free_board(device_power *pw) {
  power_free(pw->drv);
  vars_free(pw->vars);
  free(pw->name);
  free(pw);
}

static void job_done(uv_work_t *req, int status) {
  job *j = req->data;
  device_power *pw = j->pw;
  (void)status;
  pw->head = j->next;
  if (!pw->head) pw->tail = NULL;
  pw->running = 0;
  const char *how = power_driver(pw->drv);
  if (j->rc == 0) {
    if (j->op == DEVICE_POWER_STATE) {
      pw->known = j->st;
      if (j->why && strcmp(j->why, "start") == 0) pw->before = j->st;
      if (pw->log) {
        cJSON *ev = evlog_add(pw->log, "power.state");
        cJSON_AddStringToObject(ev, "device", pw->name);
        cJSON_AddStringToObject(ev, "state", power_state_name(j->st));
        if (j->why) cJSON_AddStringToObject(ev, "why", j->why);
        evlog_commit(pw->log);
      }
    } else {
      pw->known = j->op == DEVICE_POWER_OFF ? POWER_OFF : POWER_ON;
      event(pw, j->op == DEVICE_POWER_OFF ? "off" : "on", how);
    }
  } else {
    /* after a failed switch nobody knows what the relay did */
    if (j->op != DEVICE_POWER_STATE) pw->known = POWER_UNKNOWN;
    if (pw->log) {
      cJSON *ev = evlog_add(pw->log, "power.error");
      cJSON_AddStringToObject(ev, "device", pw->name);
      cJSON_AddStringToObject(ev, "op", op_names[j->op]);
      cJSON_AddStringToObject(ev, "error", j->err);
      evlog_commit(pw->log);
    }
    /* nobody waits for these: say it where the lab engineer looks */
    if (j->why && strcmp(j->why, "start") != 0)
      fprintf(stderr, "otahil: power %s at %s failed: %s\n", op_names[j->op], j->why, j->err);
  }
  if (j->done) j->done(j->done_arg, j->rc, j->st, j->err);
  vars_free(j->vars);
  free(j);
  if (pw->head) next_job(pw);
  else if (pw->freeing) free_board(pw);
}

/* A process device's cmd and env = { NAME = "value" } with the case's placeholders
 * filled in (lab_placeholders.h): *argv and *envp (NULL-terminated; envp empty
 * without env), or -1 with err. */
static int expand_cmd(device_power *pw, char **pairs, char ***argv, char ***envp, char *err, size_t errlen) {
  const lab_device *ld = pw->lab;
  const char *const *vars = (const char *const *)pairs;
  char why[256];
  size_t bad = 0;
  *argv = lab_expand_all(ld->cmd.n, ld->cmd.v, NULL, vars, &bad, why, sizeof why);
  if (!*argv) {
    snprintf(err, errlen, "device '%s': cmd %s", pw->name, why);
    return -1;
  }
  *envp = lab_expand_all(ld->env.n, ld->env.values, ld->env.keys, vars, &bad, why, sizeof why);
  if (!*envp) {
    snprintf(err, errlen, "device '%s': env.%s %s", pw->name, ld->env.keys[bad], why);
    lab_expand_free(*argv);
    return -1;
  }
  return 0;
}

int device_power_attach(device_power *pw, evlog *log, const device_vars *vars, int stdio_fd, char *err,
                        size_t errlen) {
  char **pairs = calloc((size_t)vars->n * 2 + 1, sizeof *pairs);
  if (!pairs) abort();
  for (int i = 0; i < vars->n; i++) {
    pairs[2 * i] = strdup(vars->keys[i]);
    pairs[2 * i + 1] = strdup(vars->values[i] ? vars->values[i] : "");
  }
  if (pw->board) {
    vars_free(pw->vars);
    pw->vars = pairs;
    pw->log = log;
    /* remember the state before the run, then start the case from off */
    if (!pw->asked_before && !pw->touched && power_can_tell(pw->drv)) submit(pw, DEVICE_POWER_STATE, 0, 0, "start");
    pw->asked_before = 1;
    if (pw->known != POWER_OFF || pw->running) {
      job *last = pw->tail;
      if (!last || last->op != DEVICE_POWER_OFF) submit(pw, DEVICE_POWER_OFF, 0, 0, "start");
    }
    return 0;
  }
  char **argv = NULL, **envp = NULL;
  int rc = expand_cmd(pw, pairs, &argv, &envp, err, errlen);
  if (rc == 0) {
    cJSON_Delete(pw->argv);
    pw->argv = cJSON_CreateStringArray((const char *const *)argv, (int)pw->lab->cmd.n);
    if (pw->pp) power_process_free(pw->pp);
    pw->pp = power_process_new(pw->loop, argv, stdio_fd, process_exit, pw);
    power_process_set_env(pw->pp, envp);
    pw->log = log;
  }
  lab_expand_free(envp);
  lab_expand_free(argv);
  vars_free(pairs);
  return rc;
}

void device_power_detach(device_power *pw) { pw->log = NULL; }

const cJSON *device_power_argv(const device_power *pw) { return pw->argv; }

void device_power_cleanup(device_power *pw) {
  if (!pw->board) {
    if (!pw->pp || !power_process_is_on(pw->pp)) return;
    pw->cutting = 1;
    power_process_off(pw->pp, 0, 0);
    return;
  }
  if (pw->known == POWER_OFF && !pw->running) return;
  if (pw->tail && pw->tail->op == DEVICE_POWER_OFF) return;
  submit(pw, DEVICE_POWER_OFF, 0, 0, "cleanup");
}

int device_power_settled(const device_power *pw) {
  if (!pw->board) return !pw->pp || !power_process_is_on(pw->pp);
  return pw->head == NULL;
}

int device_power_is_on(const device_power *pw) {
  if (!pw->board) return pw->pp && power_process_is_on(pw->pp);
  return pw->known == POWER_ON;
}

int device_power_is_off(const device_power *pw) {
  if (!device_power_settled(pw)) return 0;
  if (!pw->board) return 1;
  return pw->known == POWER_OFF ? 1 : -1; /* a failed call leaves it unknown */
}

unsigned device_power_cleanup_ms(const device_power *pw) {
  if (!pw->board) return 0;
  /* what runs now, then the cleanup's own off */
  return (unsigned)(power_timeout(pw->drv) * 2000.0);
}

void device_power_free(device_power *pw) {
  if (!pw) return;
  pw->log = NULL;
  pw->flush = NULL;
  if (!pw->board) {
    power_process_free(pw->pp);
    cJSON_Delete(pw->argv);
    free(pw->name);
    free(pw);
    return;
  }
  if (pw->touched) {
    at_exit_t at = pw->at_exit;
    if (at == AT_BEFORE) at = pw->before == POWER_OFF ? AT_OFF : AT_ON;
    /* a failed call leaves the state unknown: then switch anyway */
    if (at == AT_ON && (pw->known != POWER_ON || pw->running)) submit(pw, DEVICE_POWER_ON, 0, 0, "exit");
    if (at == AT_OFF && (pw->known != POWER_OFF || pw->running)) submit(pw, DEVICE_POWER_OFF, 0, 0, "exit");
  }
  pw->freeing = 1;
  if (!pw->head) free_board(pw);
}

/* ---- for callers that switch power -------------------------------------- */

const char *device_power_name(const device_power *pw) { return pw->name; }
int device_power_is_board(const device_power *pw) { return pw->board; }
int device_power_attached(const device_power *pw) { return pw->log != NULL; }
uv_loop_t *device_power_loop(const device_power *pw) { return pw->loop; }
double device_power_timeout(const device_power *pw) { return power_timeout(pw->drv); }

device_power_call *device_power_submit(device_power *pw, device_power_op op, double timeout, double delay,
                                       device_power_done_cb done, void *arg) {
  job *j = submit(pw, op, timeout, delay, NULL);
  j->done = done;
  j->done_arg = arg;
  return j;
}

void device_power_forget(device_power_call *c) {
  c->done = NULL;
  c->done_arg = NULL;
}

int device_power_start(device_power *pw, char *err, size_t errlen) {
  if (power_process_on(pw->pp, err, errlen) != 0) return -1;
  event(pw, "on", "process");
  return 0;
}

void device_power_stop(device_power *pw, int graceful) {
  pw->cutting = 1;
  event(pw, "cutting", graceful ? "graceful" : "cut");
  power_process_off(pw->pp, graceful, GRACE_MS);
}

int device_power_pid(const device_power *pw) { return pw->pp ? power_process_pid(pw->pp) : 0; }
