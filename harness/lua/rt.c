/* rt: a scenario's Lua state, made and freed (see rt.h); the limits, sandbox, tasks and errors are rt_<part>.c. */
#include "rt_internal.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>

static void rt__free_handle(uv_handle_t *h) { free(h); }

rt *rt_new(const rt_config *cfg, char *err, size_t errlen) {
  rt *R = calloc(1, sizeof *R);
  if (!R) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  R->cfg = *cfg;
  if (!R->cfg.mem_limit) R->cfg.mem_limit = 64u << 20;
  if (!R->cfg.instr_budget) R->cfg.instr_budget = 200000000ull;
  if (!(R->cfg.watchdog_s > 0)) R->cfg.watchdog_s = 5.0 * (R->cfg.timeout_multiplier > 0 ? R->cfg.timeout_multiplier : 1);
  if (R->cfg.timeout_multiplier <= 0) R->cfg.timeout_multiplier = 1;
  R->mem.limit = R->cfg.mem_limit;
  R->L = lua_newstate(rt_mem_alloc, &R->mem);
  if (!R->L) {
    snprintf(err, errlen, "cannot create a Lua state");
    free(R);
    return NULL;
  }
  lua_pushlightuserdata(R->L, R);
  lua_setfield(R->L, LUA_REGISTRYINDEX, RT_KEY);
  rt__sandbox(R->L);
  lua_sethook(R->L, rt__hook, LUA_MASKCOUNT, HOOK_EVERY);
  R->kick = malloc(sizeof *R->kick);
  if (!R->kick) abort();
  uv_timer_init(cfg->loop, R->kick);
  R->kick->data = R;
  evlog_set_notify(cfg->log, (evlog_notify_cb)rt_poke, R);
  return R;
}

lua_State *rt_lua(rt *R) { return R->L; }
evlog *rt_log(rt *R) { return R->cfg.log; }
uv_loop_t *rt_loop(rt *R) { return R->cfg.loop; }
double rt_scale(rt *R, double s) { return s * R->cfg.timeout_multiplier; }

rt *rt_from_lua(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, RT_KEY);
  rt *R = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return R;
}

void rt_on_close(rt *R, void (*fn)(void *), void *arg) {
  rt_closer *c = malloc(sizeof *c);
  if (!c) abort();
  c->fn = fn;
  c->arg = arg;
  c->next = R->closers;
  R->closers = c;
}

void rt_free(rt *R) {
  if (!R) return;
  rt_abort(R);
  evlog_set_notify(R->cfg.log, NULL, NULL);
  /* closers first: they may still use the state (e.g. unref callbacks) */
  while (R->closers) {
    rt_closer *c = R->closers;
    R->closers = c->next;
    c->fn(c->arg);
    free(c);
  }
  lua_close(R->L);
  while (R->tasks) {
    rt_task *t = R->tasks;
    R->tasks = t->next;
    free(t);
  }
  uv_timer_stop(R->kick);
  uv_close((uv_handle_t *)R->kick, rt__free_handle);
  free(R);
}

int rt_load_file(rt *R, const char *path, char *err, size_t errlen) {
  if (luaL_loadfilex(R->L, path, "t") != LUA_OK) {
    snprintf(err, errlen, "%s", lua_tostring(R->L, -1));
    lua_pop(R->L, 1);
    return -1;
  }
  return 0;
}
