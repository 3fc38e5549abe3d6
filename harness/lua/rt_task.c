/* rt_task: scenario tasks (coroutines) on the loop, resumptions under the limits, and the waits that yield and resume them. */
#include "rt_internal.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void rt__wait_closed(uv_handle_t *h) {
  rt_wait *w = h->data;
  free(w);
}

/* Ends a wait: frees its data and closes its timer (which frees it). */
static void rt__wait_end(rt_wait *w) {
  if (w->task) w->task->wait = NULL;
  if (w->free_data) w->free_data(w->data);
  w->free_data = NULL;
  uv_timer_stop(&w->timer);
  uv_close((uv_handle_t *)&w->timer, rt__wait_closed);
}

void rt_abort(rt *R) {
  R->aborted = 1;
  for (rt_task *t = R->tasks; t; t = t->next)
    if (t->wait) rt__wait_end(t->wait);
}

static void rt__finish(rt *R, rt_status st, const char *msg) {
  if (R->finished) return;
  R->finished = 1;
  rt_abort(R);
  if (R->done) R->done(R->done_arg, st, msg);
}

int rt_pcall(rt *R, int nargs, int nres, char *err, size_t errlen) {
  lua_State *L = R->L;
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, rt__msgh);
  lua_insert(L, base);
  R->instr = 0;
  R->resume_t0 = rt_mono();
  int st = lua_pcall(L, nargs, nres, base);
  R->resume_t0 = 0;
  lua_remove(L, base);
  if (st == LUA_OK) return 0;
  if (st == LUA_ERRMEM) snprintf(err, errlen, "memory cap of %zu MiB exceeded", R->cfg.mem_limit >> 20);
  else snprintf(err, errlen, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "error");
  lua_pop(L, 1);
  return -1;
}

/* Turns the error on top of co into a status and a one-line message, and ends the scenario. */
static void rt__task_error(rt_task *t, int st) {
  rt *R = t->R;
  lua_State *co = t->co;
  if (st == LUA_ERRMEM) {
    char msg[400], where[300];
    rt__innermost(co, where, sizeof where); /* the line that asked for more; allocates nothing */
    snprintf(msg, sizeof msg, "%smemory cap of %zu MiB exceeded", where, R->cfg.mem_limit >> 20);
    rt__finish(R, RT_ERROR, msg);
    return;
  }
  if (lua_istable(co, -1)) {
    lua_getfield(co, -1, FAIL_FIELD);
    int is_fail = lua_toboolean(co, -1);
    lua_pop(co, 1);
    if (is_fail) {
      lua_getfield(co, -1, "message");
      char *msg = strdup(lua_isstring(co, -1) ? lua_tostring(co, -1) : "expectation failed");
      lua_pop(co, 1);
      rt__finish(R, RT_FAIL, msg);
      free(msg);
      return;
    }
  }
  char msg[1400];
  rt__error_text(co, -1, msg, sizeof msg);
  /* the traceback goes to the log; the outcome message stays one line */
  luaL_traceback(R->L, co, msg, 0);
  cJSON *ev = evlog_add(R->cfg.log, "error");
  cJSON_AddStringToObject(ev, "traceback", lua_tostring(R->L, -1));
  lua_pop(R->L, 1);
  rt__finish(R, RT_ERROR, msg);
}

static void rt__wait_fire(rt_wait *w, int timed_out);

static void rt__resume(rt_task *t, int nargs) {
  rt *R = t->R;
  if (R->aborted) return;
  int nres = 0;
  R->instr = 0;
  R->resume_t0 = rt_mono();
  R->running = t;
  int st = lua_resume(t->co, R->L, nargs, &nres);
  R->running = NULL;
  R->resume_t0 = 0;
  if (st == LUA_YIELD) {
    lua_pop(t->co, nres);
    if (!t->wait && !R->aborted) {
      lua_pushliteral(t->co, "a scenario task yielded outside of an otahil wait");
      rt__task_error(t, LUA_ERRRUN);
    }
    return;
  }
  if (st != LUA_OK) {
    rt__task_error(t, st);
    return;
  }
  if (t->main) {
    /* What came with the main task's last event may also fail the case (a death pattern in
       the same console read as the line it waited for): every other wait looks once first. */
    for (rt_task *o = R->tasks; o && !R->finished; o = o->next)
      if (o != t && o->wait) rt__wait_fire(o->wait, 0);
    rt__finish(R, RT_PASS, NULL);
  }
}

static rt_task *rt__task_new(rt *R, lua_State *L, int idx, int main) {
  idx = lua_absindex(L, idx);
  /* the Lua parts first: at the memory cap they raise, and nothing of C is made yet */
  lua_State *co = lua_newthread(L);
  lua_pushvalue(L, idx);
  lua_xmove(L, co, 1);
  int ref = luaL_ref(L, LUA_REGISTRYINDEX);
  rt_task *t = calloc(1, sizeof *t);
  if (!t) abort();
  t->R = R;
  t->main = main;
  t->co = co;
  t->ref = ref;
  *(rt_task **)lua_getextraspace(t->co) = t;
  t->next = R->tasks;
  R->tasks = t;
  return t;
}

int rt_start(rt *R, int nargs, rt_done_cb done, void *arg) {
  lua_State *L = R->L;
  int fidx = lua_gettop(L) - nargs;
  R->done = done;
  R->done_arg = arg;
  rt_task *t = rt__task_new(R, L, fidx, 1);
  for (int i = 1; i <= nargs; i++) lua_pushvalue(L, fidx + i);
  lua_xmove(L, t->co, nargs);
  lua_settop(L, fidx - 1);
  rt__resume(t, nargs);
  return 0;
}

void rt_spawn(lua_State *L, int idx) {
  rt *R = rt_from_lua(L);
  idx = lua_absindex(L, idx);
  luaL_checktype(L, idx, LUA_TFUNCTION);
  /* main = -1: started from the loop by the next kick, never inside the caller's resume */
  rt__task_new(R, L, idx, -1);
  rt_poke(R);
}

/* ---- waits --------------------------------------------------------------- */

void *rt_wait_data(rt_wait *w) { return w->data; }
rt *rt_wait_rt(rt_wait *w) { return w->R; }

static void rt__wait_fire(rt_wait *w, int timed_out) {
  rt_task *t = w->task;
  int n = w->check(w, t->co, timed_out);
  if (n <= 0) {
    if (!timed_out) return;
    lua_pushnil(t->co);
    lua_pushliteral(t->co, "timeout");
    n = 2;
  }
  rt__wait_end(w);
  rt__resume(t, n);
}

static void rt__timer_cb(uv_timer_t *timer) {
  rt_wait *w = timer->data;
  if (w->R->aborted) return;
  rt__wait_fire(w, 1);
}

static void rt__kick_cb(uv_timer_t *timer) {
  rt *R = timer->data;
  R->kick_pending = 0;
  if (R->aborted) return;
  /* new tasks first, then every pending wait checks the log once */
  for (rt_task *t = R->tasks; t && !R->aborted; t = t->next) {
    if (t->main == -1) {
      t->main = 0;
      rt__resume(t, 0);
      rt_poke(R);
      return; /* the task list may have changed; check again from a new kick */
    }
  }
  for (rt_task *t = R->tasks; t && !R->aborted; t = t->next) {
    if (t->wait) {
      rt_wait *w = t->wait;
      rt__wait_fire(w, 0);
      if (!t->wait && !R->aborted) {
        rt_poke(R); /* a task moved on: others may see new events */
        return;
      }
    }
  }
}

void rt_poke(rt *R) {
  if (R->kick_pending || R->aborted) return;
  R->kick_pending = 1;
  uv_timer_start(R->kick, rt__kick_cb, 0, 0);
}

int rt_return_or_raise(lua_State *L, int n) {
  if (n >= 2 && lua_isnil(L, -n)) {
    const char *why = lua_tostring(L, -n + 1);
    return luaL_error(L, "%s", why ? why : "error");
  }
  return n;
}

/* A raising wait resumed: its check's values are above the stack it yielded with (ctx). */
static int rt__raise_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  return rt_return_or_raise(L, lua_gettop(L) - (int)ctx);
}

static int rt__wait(lua_State *L, rt_check_fn check, void *data, void (*free_data)(void *), double timeout_s,
                    int raise) {
  rt *R = rt_from_lua(L);
  rt_task *t = *(rt_task **)lua_getextraspace(L);
  if (!lua_isyieldable(L) || !t || t->co != L) {
    if (free_data) free_data(data);
    return luaL_error(L, "cannot wait here (inside a metamethod, an iterator or a C call?)");
  }
  rt_wait *w = calloc(1, sizeof *w);
  if (!w) abort();
  w->R = R;
  w->task = t;
  w->check = check;
  w->data = data;
  w->free_data = free_data;
  uv_timer_init(R->cfg.loop, &w->timer);
  w->timer.data = w;
  int n = check(w, L, 0);
  if (n > 0) {
    w->task = NULL;
    rt__wait_end(w);
    return raise ? rt_return_or_raise(L, n) : n;
  }
  t->wait = w;
  /* +inf waits for ever (until the scenario's deadline); a negative or NaN
   * timeout (a deadline already past, computed by a library) times out at
   * once, never waits for ever */
  if (!(isinf(timeout_s) && timeout_s > 0)) {
    double ms = timeout_s > 0 ? ceil(rt_scale(R, timeout_s) * 1000.0) : 0;
    if (!(ms <= 1e15)) ms = 1e15; /* ~31000 years; keeps the cast defined */
    /* the loop's clock was read when this iteration began; the work since then
       would make the wait end early (a 50 ms sleep was seen to last 44 ms) */
    uv_update_time(R->cfg.loop);
    uv_timer_start(&w->timer, rt__timer_cb, (uint64_t)ms, 0);
  }
  if (raise) return lua_yieldk(L, 0, (lua_KContext)lua_gettop(L), rt__raise_k);
  return lua_yield(L, 0);
}

int rt_wait_yield(lua_State *L, rt_check_fn check, void *data, void (*free_data)(void *),
                  double timeout_s) {
  return rt__wait(L, check, data, free_data, timeout_s, 0);
}

int rt_wait_yield_raise(lua_State *L, rt_check_fn check, void *data, void (*free_data)(void *),
                        double timeout_s) {
  return rt__wait(L, check, data, free_data, timeout_s, 1);
}
