/* rt_limits: the memory cap, the instruction budget and the wall-clock watchdog of a scenario's state. */
#include "rt_internal.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* ---- memory cap ---------------------------------------------------------- */

void *rt_mem_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  rt_mem *m = ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    m->used -= old;
    return NULL;
  }
  if (nsize > old && m->used - old + nsize > m->limit) return NULL;
  void *p = realloc(ptr, nsize);
  if (p) m->used = m->used - old + nsize;
  return p;
}

/* ---- instruction budget and watchdog --------------------------------------- */

double rt_mono(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Marks the state a runaway with `msg` at the Lua frame `ar` (the caller's):
 * from then on every instruction raises (see rt__hook). */
static void rt__runaway(lua_State *L, rt *R, const char *what);

/* Over budget, the error is an ordinary Lua error, which a pcall in the loop would catch
   and go on. So from then on the hook fires at every instruction and raises again: no
   more Lua code runs anywhere in this state, each pcall on the way gives up in turn, and
   the error reaches the task (the case ends ERROR) or the loader (the file is refused). */
void rt__hook(lua_State *L, lua_Debug *ar) {
  rt *R = rt_from_lua(L);
  (void)ar;
  R->instr += HOOK_EVERY;
  if (!R->runaway && R->instr > R->cfg.instr_budget) {
    char what[128];
    snprintf(what, sizeof what, "instruction budget of %llu exceeded without waiting (runaway loop?)",
             (unsigned long long)R->cfg.instr_budget);
    rt__runaway(L, R, what);
  }
  if (!R->runaway) rt_watchdog(L);
  if (R->runaway) {
    lua_pushstring(L, R->runaway_msg); /* located already: luaL_error would add it twice */
    lua_error(L);
  }
}

static void rt__runaway(lua_State *L, rt *R, const char *what) {
  lua_Debug ar;
  int line = 0;
  const char *src = "?";
  /* the innermost Lua frame: the running code, or the caller of a C function */
  for (int l = 0; lua_getstack(L, l, &ar); l++)
    if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
      src = ar.short_src, line = ar.currentline;
      break;
    }
  snprintf(R->runaway_msg, sizeof R->runaway_msg, "%s:%d: %s", src, line, what);
  R->runaway = 1;
  lua_sethook(L, rt__hook, LUA_MASKCOUNT, 1);
}

void rt_watchdog(lua_State *L) {
  rt *R = rt_from_lua(L);
  if (!R || R->resume_t0 <= 0) return;
  double held = rt_mono() - R->resume_t0;
  if (!R->runaway && held > R->cfg.watchdog_s) {
    char what[160];
    snprintf(what, sizeof what, "held the loop %.1f s without waiting (at most %.1f s: a slow pattern or a long C call?)",
             held, R->cfg.watchdog_s);
    rt__runaway(L, R, what);
  }
  if (R->runaway) {
    lua_pushstring(L, R->runaway_msg);
    lua_error(L);
  }
}
