#include "device_power.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "power.h"
#include "power_process.h"
#include "rt.h"

#define GRACE_MS 2000
#define PROCESS_OFF_TIMEOUT 5.0
#define WAIT_MARGIN 5.0 /* a Lua wait outlives its driver call by this much */

typedef enum { OP_ON, OP_OFF, OP_CYCLE, OP_STATE } op_t;
static const char *const op_names[] = {"on", "off", "cycle", "state"};

typedef enum { AT_BEFORE, AT_ON, AT_OFF, AT_LEAVE } at_exit_t;

typedef struct waiter waiter;

typedef struct job {
  uv_work_t req;
  device_power *pw;
  op_t op;
  double timeout, delay;
  char **vars; /* key, value, ..., NULL: a copy, the thread reads it */
  const char *why; /* NULL: a scenario's call; else "start", "cleanup", "exit" */
  waiter *w;       /* the Lua call waiting for it, or NULL */
  int rc;
  power_state_t st;
  char err[1024];
  struct job *next;
} job;

struct waiter {
  job *j; /* NULL once done */
  rt *R;
  int done, rc;
  power_state_t st;
  char err[1024];
  double timeout;
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
  const char *kind = lab_str(lab, "kind");
  pw->board = kind && strcmp(kind, "board") == 0;
  if (pw->board) {
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(lab->spec, "power");
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
  if (op != OP_STATE) pw->touched = 1;
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
  case OP_ON: j->rc = power_on(p, &o, j->err, sizeof j->err); break;
  case OP_OFF: j->rc = power_off(p, &o, j->err, sizeof j->err); break;
  case OP_CYCLE: j->rc = power_cycle(p, &o, j->err, sizeof j->err); break;
  case OP_STATE: j->rc = power_state(p, &o, &j->st, j->err, sizeof j->err); break;
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
    if (j->op == OP_STATE) {
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
      pw->known = j->op == OP_OFF ? POWER_OFF : POWER_ON;
      event(pw, j->op == OP_OFF ? "off" : "on", how);
    }
  } else {
    /* after a failed switch nobody knows what the relay did */
    if (j->op != OP_STATE) pw->known = POWER_UNKNOWN;
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
  if (j->w) {
    waiter *w = j->w;
    w->done = 1;
    w->rc = j->rc;
    w->st = j->st;
    w->j = NULL;
    snprintf(w->err, sizeof w->err, "%s", j->err);
    rt_poke(w->R);
  }
  vars_free(j->vars);
  free(j);
  if (pw->head) next_job(pw);
  else if (pw->freeing) free_board(pw);
}

/* The lab's env = { NAME = "value with {placeholders}" } as "NAME=value"
 * strings (NULL-terminated, an empty list without env), or NULL with err. */
static char **expand_env(device_power *pw, char **pairs, char *err, size_t errlen) {
  const cJSON *env = cJSON_GetObjectItemCaseSensitive(pw->lab->spec, "env");
  char **out = calloc((size_t)cJSON_GetArraySize(env) + 1, sizeof *out);
  if (!out) abort();
  size_t n = 0;
  for (const cJSON *e = env ? env->child : NULL; e; e = e->next) {
    char why[256];
    char *v = power_expand(e->valuestring, (const char *const *)pairs, why, sizeof why);
    if (!v) {
      snprintf(err, errlen, "device '%s': env.%s %s", pw->name, e->string, why);
      vars_free(out);
      return NULL;
    }
    size_t len = strlen(e->string) + strlen(v) + 2;
    out[n] = malloc(len);
    if (!out[n]) abort();
    snprintf(out[n++], len, "%s=%s", e->string, v);
    free(v);
  }
  return out;
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
    if (!pw->asked_before && !pw->touched && power_can_tell(pw->drv)) submit(pw, OP_STATE, 0, 0, "start");
    pw->asked_before = 1;
    if (pw->known != POWER_OFF || pw->running) {
      job *last = pw->tail;
      if (!last || last->op != OP_OFF) submit(pw, OP_OFF, 0, 0, "start");
    }
    return 0;
  }
  const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(pw->lab->spec, "cmd");
  int argc = cJSON_GetArraySize(cmd), i = 0, rc = 0;
  char **argv = calloc((size_t)argc + 1, sizeof *argv);
  if (!argv) abort();
  for (const cJSON *a = cmd->child; a; a = a->next, i++) {
    /* {name} -> value from vars, as the power drivers fill theirs; unknown names are an error */
    char why[256];
    argv[i] = power_expand(a->valuestring, (const char *const *)pairs, why, sizeof why);
    if (!argv[i]) {
      snprintf(err, errlen, "device '%s': cmd %s", pw->name, why);
      rc = -1;
      break;
    }
  }
  char **envp = rc == 0 ? expand_env(pw, pairs, err, errlen) : NULL;
  if (rc == 0 && envp == NULL) rc = -1;
  if (rc == 0) {
    cJSON_Delete(pw->argv);
    pw->argv = cJSON_CreateStringArray((const char *const *)argv, argc);
    if (pw->pp) power_process_free(pw->pp);
    pw->pp = power_process_new(pw->loop, argv, stdio_fd, process_exit, pw);
    power_process_set_env(pw->pp, envp);
    pw->log = log;
  }
  for (char **e = envp; e && *e; e++) free(*e);
  free(envp);
  for (int k = 0; k < argc; k++) free(argv[k]);
  free(argv);
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
  if (pw->tail && pw->tail->op == OP_OFF) return;
  submit(pw, OP_OFF, 0, 0, "cleanup");
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
    if (at == AT_ON && (pw->known != POWER_ON || pw->running)) submit(pw, OP_ON, 0, 0, "exit");
    if (at == AT_OFF && (pw->known != POWER_OFF || pw->running)) submit(pw, OP_OFF, 0, 0, "exit");
  }
  pw->freeing = 1;
  if (!pw->head) free_board(pw);
}

/* ---- Lua ----------------------------------------------------------------- */

static double opt_timeout(lua_State *L, double def) {
  double t = api_optnumfield(L, 2, "timeout", def);
  if (t <= 0) luaL_error(L, "option 'timeout' must be > 0");
  return t;
}

static int not_attached(lua_State *L, device_power *pw) {
  return luaL_error(L, "device '%s' is not attached to this scenario", pw->name);
}

/* A board's call: submitted now, the Lua call yields until it is done. */
static int board_check(rt_wait *w_, lua_State *co, int timed_out) {
  waiter *w = rt_wait_data(w_);
  if (!w->done) {
    if (!timed_out) return 0;
    lua_pushnil(co);
    lua_pushfstring(co, "power call still running after %d s (the driver's own timeout did not end it)",
                    (int)w->timeout);
    return 2;
  }
  if (w->rc != 0) {
    lua_pushnil(co);
    lua_pushstring(co, w->err);
    return 2;
  }
  lua_pushboolean(co, 1);
  return 1;
}

static void waiter_free(void *p) {
  waiter *w = p;
  if (w->j) w->j->w = NULL; /* the call goes on without anyone waiting */
  free(w);
}

static int state_check(rt_wait *w_, lua_State *co, int timed_out) {
  waiter *w = rt_wait_data(w_);
  if (!w->done || w->rc != 0) return board_check(w_, co, timed_out);
  lua_pushstring(co, power_state_name(w->st));
  return 1;
}

static int board_call(lua_State *L, device_power *pw, op_t op, double timeout, double delay) {
  rt *R = rt_from_lua(L);
  waiter *w = calloc(1, sizeof *w);
  if (!w) abort();
  w->R = R;
  w->st = POWER_UNKNOWN;
  job *j = submit(pw, op, timeout, delay, NULL);
  j->w = w;
  w->j = j;
  /* the queue may hold a cleanup's call before this one: wait for both */
  double wait = (timeout > 0 ? timeout : power_timeout(pw->drv)) * 2 + delay + WAIT_MARGIN;
  w->timeout = wait;
  return rt_wait_yield(L, op == OP_STATE ? state_check : board_check, w, waiter_free, wait);
}

int device_power_l_on(lua_State *L, device_power *pw) {
  API_KEYS(L, 2, "power_on", "timeout");
  if (!pw->log) return not_attached(L, pw);
  if (pw->board) {
    double timeout = opt_timeout(L, power_timeout(pw->drv));
    if (pw->known == POWER_ON && !pw->head) {
      lua_pushboolean(L, 1);
      return 1;
    }
    return board_call(L, pw, OP_ON, timeout, 0);
  }
  if (power_process_is_on(pw->pp)) {
    lua_pushboolean(L, 1);
    return 1;
  }
  char err[512];
  if (power_process_on(pw->pp, err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "device '%s': power on: %s", pw->name, err);
    return 2;
  }
  event(pw, "on", "process");
  lua_pushboolean(L, 1);
  return 1;
}

static int process_off_check(rt_wait *w, lua_State *co, int timed_out) {
  device_power *pw = rt_wait_data(w);
  if (!power_process_is_on(pw->pp)) {
    lua_pushboolean(co, 1);
    return 1;
  }
  if (!timed_out) return 0;
  lua_pushnil(co);
  lua_pushfstring(co, "device '%s': power off: the process (pid %d) is still running", pw->name,
                  power_process_pid(pw->pp));
  return 2;
}

int device_power_l_off(lua_State *L, device_power *pw) {
  API_KEYS(L, 2, "power_off", "graceful", "timeout");
  if (!pw->log) return not_attached(L, pw);
  if (pw->board) return board_call(L, pw, OP_OFF, opt_timeout(L, power_timeout(pw->drv)), 0);
  int graceful = 0;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "graceful");
    graceful = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  double timeout = opt_timeout(L, PROCESS_OFF_TIMEOUT);
  if (!pw->pp || !power_process_is_on(pw->pp)) {
    lua_pushboolean(L, 1);
    return 1;
  }
  pw->cutting = 1;
  event(pw, "cutting", graceful ? "graceful" : "cut");
  power_process_off(pw->pp, graceful, GRACE_MS);
  return rt_wait_yield(L, process_off_check, pw, NULL, timeout);
}

/* A process device's cycle: cut, wait until reaped, the delay, start again. */
typedef struct pcycle {
  device_power *pw;
  rt *R;
  uv_timer_t *timer;
  double delay;
  int stage; /* 0 waiting for the exit, 1 in the delay, 2 delay over */
} pcycle;

static void pcycle_timer(uv_timer_t *t) {
  pcycle *c = t->data;
  c->stage = 2;
  rt_poke(c->R);
}

static void free_timer(uv_handle_t *h) { free(h); }

static void pcycle_free(void *p) {
  pcycle *c = p;
  uv_close((uv_handle_t *)c->timer, free_timer);
  free(c);
}

static int pcycle_check(rt_wait *w, lua_State *co, int timed_out) {
  pcycle *c = rt_wait_data(w);
  device_power *pw = c->pw;
  if (c->stage == 0 && !power_process_is_on(pw->pp)) {
    c->stage = c->delay > 0 ? 1 : 2;
    if (c->stage == 1) uv_timer_start(c->timer, pcycle_timer, (uint64_t)(c->delay * 1000.0), 0);
  }
  if (c->stage == 2) {
    char err[512];
    if (power_process_on(pw->pp, err, sizeof err) != 0) {
      lua_pushnil(co);
      lua_pushfstring(co, "device '%s': power cycle (on): %s", pw->name, err);
      return 2;
    }
    event(pw, "on", "process");
    lua_pushboolean(co, 1);
    return 1;
  }
  if (!timed_out) return 0;
  lua_pushnil(co);
  lua_pushfstring(co, "device '%s': power cycle: %s", pw->name,
                  c->stage == 0 ? "the process is still running after the cut" : "timed out");
  return 2;
}

static double opt_delay(lua_State *L) {
  double d = api_optnumfield(L, 2, "delay", 0);
  if (d < 0) luaL_error(L, "option 'delay' must be >= 0 (seconds off)");
  return d;
}

int device_power_l_cycle(lua_State *L, device_power *pw) {
  API_KEYS(L, 2, "power_cycle", "delay", "timeout");
  if (!pw->log) return not_attached(L, pw);
  double delay = opt_delay(L);
  if (pw->board) return board_call(L, pw, OP_CYCLE, opt_timeout(L, power_timeout(pw->drv)), delay);
  double timeout = opt_timeout(L, PROCESS_OFF_TIMEOUT);
  pcycle *c = calloc(1, sizeof *c);
  c->timer = malloc(sizeof *c->timer);
  if (!c || !c->timer) abort();
  uv_timer_init(pw->loop, c->timer);
  c->timer->data = c;
  c->pw = pw;
  c->R = rt_from_lua(L);
  c->delay = delay;
  if (power_process_is_on(pw->pp)) {
    pw->cutting = 1;
    event(pw, "cutting", "cut");
    power_process_off(pw->pp, 0, 0);
  }
  return rt_wait_yield(L, pcycle_check, c, pcycle_free, timeout + delay);
}

int device_power_l_state(lua_State *L, device_power *pw) {
  API_KEYS(L, 2, "power_state", "timeout");
  if (!pw->board) {
    lua_pushstring(L, pw->pp && power_process_is_on(pw->pp) ? "on" : "off");
    return 1;
  }
  if (!pw->log) return not_attached(L, pw);
  return board_call(L, pw, OP_STATE, opt_timeout(L, power_timeout(pw->drv)), 0);
}

int device_power_l_is_on(lua_State *L, device_power *pw) {
  lua_pushboolean(L, device_power_is_on(pw));
  return 1;
}

static const char wrap_lua[] =
    "local methods = ...\n"
    "for _, name in ipairs { 'power_on', 'power_off', 'power_cycle', 'power_state' } do\n"
    "  local raw = methods[name]\n"
    "  methods[name] = function(self, opts)\n"
    "    local ok, why = raw(self, opts)\n"
    "    if ok == nil then error(why, 2) end\n"
    "    return ok\n"
    "  end\n"
    "end\n";

void device_power_wrap(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  if (luaL_loadbuffer(L, wrap_lua, sizeof wrap_lua - 1, "=device_power") != LUA_OK) lua_error(L);
  lua_pushvalue(L, idx);
  lua_call(L, 1, 0);
}
