/* api_power: the power methods of t.device (dev:power_on ...), see api_power.h. */
#include "api_power.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>

#include "api.h"
#include "rt.h"

#define PROCESS_OFF_TIMEOUT 5.0
#define WAIT_MARGIN 5.0 /* a Lua wait outlives its driver call by this much */

static double opt_timeout(lua_State *L, double def) {
  double t = api_optnumfield(L, 2, "timeout", def);
  if (t <= 0) luaL_error(L, "option 'timeout' must be > 0");
  return t;
}

static double opt_delay(lua_State *L) {
  double d = api_optnumfield(L, 2, "delay", 0);
  if (d < 0) luaL_error(L, "option 'delay' must be >= 0 (seconds off)");
  return d;
}

static int not_attached(lua_State *L, device_power *pw) {
  return luaL_error(L, "device '%s' is not attached to this scenario", device_power_name(pw));
}

static int push_true(lua_State *L) {
  lua_pushboolean(L, 1);
  return 1;
}

/* ---- boards: a driver call, the Lua call yields until it is done ---------- */

typedef struct waiter {
  device_power_call *call; /* NULL once done */
  rt *R;
  int done, rc;
  power_state_t st;
  char err[1024];
  double timeout;
} waiter;

static void board_done(void *arg, int rc, power_state_t st, const char *err) {
  waiter *w = arg;
  w->done = 1;
  w->rc = rc;
  w->st = st;
  w->call = NULL;
  snprintf(w->err, sizeof w->err, "%s", err);
  rt_poke(w->R);
}

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
  return push_true(co);
}

static void waiter_free(void *p) {
  waiter *w = p;
  if (w->call) device_power_forget(w->call); /* the call goes on without anyone waiting */
  free(w);
}

static int state_check(rt_wait *w_, lua_State *co, int timed_out) {
  waiter *w = rt_wait_data(w_);
  if (!w->done || w->rc != 0) return board_check(w_, co, timed_out);
  lua_pushstring(co, power_state_name(w->st));
  return 1;
}

static int board_call(lua_State *L, device_power *pw, device_power_op op, double timeout, double delay) {
  waiter *w = calloc(1, sizeof *w);
  if (!w) abort();
  w->R = rt_from_lua(L);
  w->st = POWER_UNKNOWN;
  w->call = device_power_submit(pw, op, timeout, delay, board_done, w);
  /* the queue may hold a cleanup's call before this one: wait for both */
  double wait = (timeout > 0 ? timeout : device_power_timeout(pw)) * 2 + delay + WAIT_MARGIN;
  w->timeout = wait;
  return rt_wait_yield_raise(L, op == DEVICE_POWER_STATE ? state_check : board_check, w, waiter_free, wait);
}

/* ---- the methods ---------------------------------------------------------- */

int api_power_on(lua_State *L, device_power *pw) {
  API_KEYS(L, 2, "power_on", "timeout");
  if (!device_power_attached(pw)) return not_attached(L, pw);
  if (device_power_is_board(pw)) {
    double timeout = opt_timeout(L, device_power_timeout(pw));
    if (device_power_is_on(pw) && device_power_settled(pw)) return push_true(L);
    return board_call(L, pw, DEVICE_POWER_ON, timeout, 0);
  }
  if (device_power_is_on(pw)) return push_true(L);
  char err[512];
  if (device_power_start(pw, err, sizeof err) != 0)
    return luaL_error(L, "device '%s': power on: %s", device_power_name(pw), err);
  return push_true(L);
}

static int process_off_check(rt_wait *w, lua_State *co, int timed_out) {
  device_power *pw = rt_wait_data(w);
  if (!device_power_is_on(pw)) return push_true(co);
  if (!timed_out) return 0;
  lua_pushnil(co);
  lua_pushfstring(co, "device '%s': power off: the process (pid %d) is still running", device_power_name(pw),
                  device_power_pid(pw));
  return 2;
}

int api_power_off(lua_State *L, device_power *pw) {
  API_KEYS(L, 2, "power_off", "graceful", "timeout");
  if (!device_power_attached(pw)) return not_attached(L, pw);
  if (device_power_is_board(pw))
    return board_call(L, pw, DEVICE_POWER_OFF, opt_timeout(L, device_power_timeout(pw)), 0);
  int graceful = 0;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "graceful");
    graceful = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  double timeout = opt_timeout(L, PROCESS_OFF_TIMEOUT);
  if (!device_power_is_on(pw)) return push_true(L);
  device_power_stop(pw, graceful);
  return rt_wait_yield_raise(L, process_off_check, pw, NULL, timeout);
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
  if (c->stage == 0 && !device_power_is_on(pw)) {
    c->stage = c->delay > 0 ? 1 : 2;
    if (c->stage == 1) uv_timer_start(c->timer, pcycle_timer, (uint64_t)(c->delay * 1000.0), 0);
  }
  if (c->stage == 2) {
    char err[512];
    if (device_power_start(pw, err, sizeof err) != 0) {
      lua_pushnil(co);
      lua_pushfstring(co, "device '%s': power cycle (on): %s", device_power_name(pw), err);
      return 2;
    }
    return push_true(co);
  }
  if (!timed_out) return 0;
  lua_pushnil(co);
  lua_pushfstring(co, "device '%s': power cycle: %s", device_power_name(pw),
                  c->stage == 0 ? "the process is still running after the cut" : "timed out");
  return 2;
}

int api_power_cycle(lua_State *L, device_power *pw) {
  API_KEYS(L, 2, "power_cycle", "delay", "timeout");
  if (!device_power_attached(pw)) return not_attached(L, pw);
  double delay = opt_delay(L);
  if (device_power_is_board(pw))
    return board_call(L, pw, DEVICE_POWER_CYCLE, opt_timeout(L, device_power_timeout(pw)), delay);
  double timeout = opt_timeout(L, PROCESS_OFF_TIMEOUT);
  pcycle *c = calloc(1, sizeof *c);
  if (!c) abort();
  c->timer = malloc(sizeof *c->timer);
  if (!c->timer) abort();
  uv_timer_init(device_power_loop(pw), c->timer);
  c->timer->data = c;
  c->pw = pw;
  c->R = rt_from_lua(L);
  c->delay = delay;
  if (device_power_is_on(pw)) device_power_stop(pw, 0);
  return rt_wait_yield_raise(L, pcycle_check, c, pcycle_free, timeout + delay);
}

int api_power_state(lua_State *L, device_power *pw) {
  API_KEYS(L, 2, "power_state", "timeout");
  if (!device_power_is_board(pw)) {
    lua_pushstring(L, device_power_is_on(pw) ? "on" : "off");
    return 1;
  }
  if (!device_power_attached(pw)) return not_attached(L, pw);
  return board_call(L, pw, DEVICE_POWER_STATE, opt_timeout(L, device_power_timeout(pw)), 0);
}

int api_power_is_on(lua_State *L, device_power *pw) {
  lua_pushboolean(L, device_power_is_on(pw));
  return 1;
}
