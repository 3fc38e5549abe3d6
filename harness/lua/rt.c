#include "rt.h"
#include "rt_libs.h"

#include <lauxlib.h>
#include <math.h>
#include <lualib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lua_match.h"

#define RT_KEY "otahil.rt"
#define RT_LOADED "otahil.loaded"
#define FAIL_FIELD "__otahil_fail"
#define HOOK_EVERY 10000

typedef struct rt_task rt_task;

struct rt_wait {
  rt *R;
  rt_task *task;
  rt_check_fn check;
  void *data;
  void (*free_data)(void *);
  uv_timer_t timer;
  int armed;
};

struct rt_task {
  rt *R;
  lua_State *co;
  int ref; /* keeps the thread alive */
  int main;
  rt_wait *wait;
  rt_task *next;
};

typedef struct rt_closer {
  void (*fn)(void *);
  void *arg;
  struct rt_closer *next;
} rt_closer;

struct rt {
  rt_config cfg;
  lua_State *L;
  size_t mem_used;
  uint64_t instr;
  int runaway;            /* over the instruction budget: every instruction raises */
  double resume_t0;       /* monotonic seconds when the running resumption began */
  char runaway_msg[512];
  rt_task *tasks;
  rt_task *running;
  uv_timer_t *kick; /* defers wake-ups so a resume never nests in another */
  int kick_pending;
  int aborted, finished;
  rt_done_cb done;
  void *done_arg;
  rt_closer *closers;
};

/* ---- memory cap ---------------------------------------------------------- */

static void *rt__alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  rt *R = ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    R->mem_used -= old;
    return NULL;
  }
  if (nsize > old && R->mem_used - old + nsize > R->cfg.mem_limit) return NULL;
  void *p = realloc(ptr, nsize);
  if (p) R->mem_used = R->mem_used - old + nsize;
  return p;
}

/* ---- instruction budget and watchdog --------------------------------------- */

static double rt__mono(void) {
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
static void rt__hook(lua_State *L, lua_Debug *ar) {
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
  double held = rt__mono() - R->resume_t0;
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

/* ---- sandbox ------------------------------------------------------------- */

static int rt__denied_index(lua_State *L) {
  const char *k = lua_tostring(L, 2);
  return luaL_error(L, "global '%s' is not defined or not allowed in a scenario", k ? k : "?");
}

static int rt__denied_newindex(lua_State *L) {
  const char *k = lua_tostring(L, 2);
  return luaL_error(L, "assignment to global '%s': scenarios use locals", k ? k : "?");
}

/* load(text [, name [, mode [, env]]]): text chunks only. */
static int rt__safe_load(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  const char *name = luaL_optstring(L, 2, "=(load)");
  if (len > 0 && s[0] == LUA_SIGNATURE[0]) {
    luaL_pushfail(L);
    lua_pushliteral(L, "load: binary chunks are not allowed");
    return 2;
  }
  int st = luaL_loadbufferx(L, s, len, name, "t");
  if (st != LUA_OK) {
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2;
  }
  if (!lua_isnoneornil(L, 4)) {
    lua_pushvalue(L, 4);
    if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
  }
  return 1;
}

/* require(name): only scenarios/lib/<name>.lua, loaded once per state. */
static int rt__require(lua_State *L) {
  rt *R = rt_from_lua(L);
  const char *name = luaL_checkstring(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, RT_LOADED);
  if (lua_getfield(L, -1, name) != LUA_TNIL) return 1;
  lua_pop(L, 1);
  for (const char *p = name; *p; p++) {
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.'))
      return luaL_error(L, "require '%s': names are [a-z0-9_.] (modules live in scenarios/lib)", name);
  }
  char rel[512], path[4096];
  size_t n = 0;
  for (const char *p = name; *p && n < sizeof rel - 5; p++) rel[n++] = *p == '.' ? '/' : *p;
  if (strlen(name) > sizeof rel - 5) return luaL_error(L, "require '%s': name too long", name);
  memcpy(rel + n, ".lua", 5);
  if (rt_libs_find(R->cfg.lib_dir, R->cfg.lab_libs, rel, path, sizeof path) != 0)
    return luaL_error(L, "require '%s': no %s in %s%s", name, rel, R->cfg.lib_dir ? R->cfg.lib_dir : "(no library)",
                      R->cfg.lab_libs && R->cfg.lab_libs[0] ? " or the lab's library folders" : "");
  if (luaL_loadfilex(L, path, "t") != LUA_OK)
    return luaL_error(L, "require '%s': %s", name, lua_tostring(L, -1));
  lua_pushstring(L, name);
  lua_call(L, 1, 1);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, name);
  return 1;
}

static int rt__print(lua_State *L) {
  rt *R = rt_from_lua(L);
  int n = lua_gettop(L); /* before buffinit, which may push a slot of its own */
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    if (i > 1) luaL_addchar(&b, '\t');
    luaL_tolstring(L, i, NULL); /* the buffer takes it off the stack */
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  cJSON *ev = evlog_add(R->cfg.log, "log");
  cJSON_AddStringToObject(ev, "msg", lua_tostring(L, -1));
  evlog_commit(R->cfg.log);
  return 0;
}

/* setmetatable(t, mt) without finalizers: Lua 5.4 runs __gc with hooks off,
 * where neither the instruction budget nor the watchdog can stop a loop in it. */
static int rt__setmetatable(lua_State *L) {
  if (lua_istable(L, 2)) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL)
      return luaL_error(L, "setmetatable: __gc finalizers are not allowed in a scenario (they run where no "
                           "time limit reaches them; close things in the scenario's own code)");
    lua_pop(L, 1);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL) return luaL_error(L, "cannot change a protected metatable");
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

static void rt__sandbox(lua_State *L) {
  static const char *const keep[] = {"assert", "error", "ipairs", "next", "pairs", "pcall",
                                     "xpcall", "select", "tonumber", "tostring", "type",
                                     "rawequal", "rawget", "rawset", "rawlen", "setmetatable",
                                     "getmetatable", "string", "table", "math", "utf8", "_G",
                                     "_VERSION", NULL};
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
  luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
  luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 1);
  lua_pop(L, 6);

  /* a new global table holding only what is allowed */
  lua_pushglobaltable(L);
  int g = lua_gettop(L);
  lua_newtable(L);
  int env = lua_gettop(L);
  for (int i = 0; keep[i]; i++) {
    lua_getfield(L, g, keep[i]);
    lua_setfield(L, env, keep[i]);
  }
  /* os: time and clock only */
  lua_newtable(L);
  lua_getfield(L, g, "os");
  lua_getfield(L, -1, "time");
  lua_setfield(L, -3, "time");
  lua_getfield(L, -1, "clock");
  lua_setfield(L, -3, "clock");
  lua_getfield(L, -1, "date");
  lua_setfield(L, -3, "date");
  lua_pop(L, 1);
  lua_setfield(L, env, "os");
  /* no bytecode out either; pattern matching with the watchdog (lua_match.c) */
  lua_getfield(L, env, "string");
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  lua_match_install(L);
  lua_pop(L, 1);
  lua_pushcfunction(L, rt__setmetatable);
  lua_setfield(L, env, "setmetatable");
  lua_pushcfunction(L, rt__safe_load);
  lua_setfield(L, env, "load");
  lua_pushcfunction(L, rt__require);
  lua_setfield(L, env, "require");
  lua_pushcfunction(L, rt__print);
  lua_setfield(L, env, "print");
  lua_pushvalue(L, env);
  lua_setfield(L, env, "_G");
  /* replace the registry's global table */
  lua_pushvalue(L, env);
  lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  lua_settop(L, g - 1);
  /* the loaded-modules table used by require, and by package-less string lib */
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, RT_LOADED);
}

static void rt__lock_globals(lua_State *L) {
  lua_pushglobaltable(L);
  lua_newtable(L);
  lua_pushcfunction(L, rt__denied_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, rt__denied_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushliteral(L, "locked");
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
}

/* ---- lifecycle ----------------------------------------------------------- */

static void rt__free_handle(uv_handle_t *h) { free(h); }

static void rt__kick_cb(uv_timer_t *t);

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
  R->L = lua_newstate(rt__alloc, R);
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

/* ---- tasks --------------------------------------------------------------- */

static void rt__finish(rt *R, rt_status st, const char *msg) {
  if (R->finished) return;
  R->finished = 1;
  rt_abort(R);
  if (R->done) R->done(R->done_arg, st, msg);
}

/* Turns the error on top of co into a status and a one-line message. */
/* Does `m` begin with a location ("file:12: ")? */
static int rt__located(const char *m) {
  const char *c = strchr(m, ':');
  if (!c || c == m) return 0;
  const char *d = c + 1;
  while (*d >= '0' && *d <= '9') d++;
  return d > c + 1 && *d == ':';
}

static int rt__in_lib(const rt *R, const lua_Debug *ar);

/* An error located in the scenario library ("./scenarios/lib/qcloud.lua:241: x", or
 * not located with a library frame innermost) points at the author's line instead:
 * the first frame of co's stack outside the library and the API's own chunks, the
 * library's line kept in brackets, as a FAIL's: "s.lua:8: x (in qcloud.lua:241)".
 * Writes the new text into out and returns 1, or 0 to keep the message. */
static int rt__author_text(lua_State *co, const char *body, char *out, size_t len) {
  rt *R = rt_from_lua(co);
  if (!R || !R->cfg.lib_dir) return 0;
  lua_Debug ar;
  char lib[300] = "", author[300] = "";
  size_t skip = 0;
  int innermost = 1;
  for (int l = 0; lua_getstack(co, l, &ar) && !author[0]; l++) {
    if (!lua_getinfo(co, "Sl", &ar) || ar.currentline <= 0) continue;
    if (rt__in_lib(R, &ar)) {
      char pre[300];
      int n = snprintf(pre, sizeof pre, "%s:%d:", ar.short_src, ar.currentline);
      if (!lib[0] && n > 0 && (size_t)n < sizeof pre &&
          (rt__located(body) ? strncmp(body, pre, (size_t)n) == 0 : innermost)) {
        snprintf(lib, sizeof lib, "%s:%d", ar.short_src, ar.currentline);
        skip = rt__located(body) ? (size_t)n + (body[n] == ' ') : 0;
      }
    } else if (ar.source[0] != '=') {
      if (!lib[0]) return 0; /* the message is not the library's */
      snprintf(author, sizeof author, "%s:%d: ", ar.short_src, ar.currentline);
    }
    innermost = 0;
  }
  if (!lib[0] || !author[0]) return 0;
  snprintf(out, len, "%s%s (in %s)", author, body + skip, lib);
  return 1;
}

/* "file:line: " of the innermost Lua frame of co's stack, or "". */
static void rt__innermost(lua_State *co, char *out, size_t len) {
  lua_Debug ar;
  out[0] = 0;
  for (int l = 0; lua_getstack(co, l, &ar); l++)
    if (lua_getinfo(co, "Sl", &ar) && ar.currentline > 0) {
      snprintf(out, len, "%s:%d: ", ar.short_src, ar.currentline);
      return;
    }
}

/* The text of the error value at `idx` of co, one line, with a location: a
 * string as it is; a table's __tostring; else what kind of value it was. A
 * message without "file:line:" gets the innermost Lua frame of co's stack (it
 * is intact: a resume that failed, or a message handler), and a location
 * given twice ("f:5: f:5: ") is given once. */
static void rt__error_text(lua_State *co, int idx, char *out, size_t len) {
  idx = lua_absindex(co, idx);
  char body[1024];
  if (lua_type(co, idx) == LUA_TSTRING || lua_type(co, idx) == LUA_TNUMBER) {
    snprintf(body, sizeof body, "%s", lua_tostring(co, idx));
  } else if (luaL_getmetafield(co, idx, "__tostring") != LUA_TNIL) {
    lua_pushvalue(co, idx);
    if (lua_pcall(co, 1, 1, 0) == LUA_OK && lua_type(co, -1) == LUA_TSTRING)
      snprintf(body, sizeof body, "%s", lua_tostring(co, -1));
    else
      snprintf(body, sizeof body, "error raised with a %s value (its __tostring failed)", luaL_typename(co, idx));
    lua_pop(co, 1);
  } else {
    snprintf(body, sizeof body, "error raised with a %s value, not a message", luaL_typename(co, idx));
  }
  char *nl = strchr(body, '\n');
  if (nl) *nl = 0;
  if (rt__author_text(co, body, out, len)) return;
  char where[300] = "";
  if (!rt__located(body)) rt__innermost(co, where, sizeof where);
  const char *b = body;
  const char *c = rt__located(b) ? strchr(strchr(b, ':') + 1, ':') : NULL;
  if (c) { /* "f:5: f:5: x" -> "f:5: x" */
    size_t plen = (size_t)(c - b) + 2;
    if (strlen(b) > 2 * plen && strncmp(b, b + plen, plen) == 0) b += plen;
  }
  snprintf(out, len, "%s%s", where, b);
}

/* The message handler of rt_pcall: the one-line text while the stack is whole. */
static int rt__msgh(lua_State *L) {
  char text[1400];
  if (lua_istable(L, 1)) {
    lua_getfield(L, 1, FAIL_FIELD);
    int fail = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (fail) {
      lua_getfield(L, 1, "message");
      return 1;
    }
  }
  rt__error_text(L, 1, text, sizeof text);
  lua_pushstring(L, text);
  return 1;
}

int rt_pcall(rt *R, int nargs, int nres, char *err, size_t errlen) {
  lua_State *L = R->L;
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, rt__msgh);
  lua_insert(L, base);
  R->instr = 0;
  R->resume_t0 = rt__mono();
  int st = lua_pcall(L, nargs, nres, base);
  R->resume_t0 = 0;
  lua_remove(L, base);
  if (st == LUA_OK) return 0;
  if (st == LUA_ERRMEM) snprintf(err, errlen, "memory cap of %zu MiB exceeded", R->cfg.mem_limit >> 20);
  else snprintf(err, errlen, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "error");
  lua_pop(L, 1);
  return -1;
}

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
  R->resume_t0 = rt__mono();
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

int rt_wait_yield(lua_State *L, rt_check_fn check, void *data, void (*free_data)(void *),
                  double timeout_s) {
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
    return n;
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
  return lua_yield(L, 0);
}

/* ---- FAIL ---------------------------------------------------------------- */

static int rt__in_lib(const rt *R, const lua_Debug *ar) {
  return ar->source[0] == '@' && rt_libs_holds(R->cfg.lib_dir, R->cfg.lab_libs, ar->source + 1);
}

/* A Lua frame of the scenario's own files (not C, not the scenario library). */
static int rt__scenario_frame(const rt *R, const lua_Debug *ar) {
  return ar->currentline > 0 && (!R->cfg.lib_dir || !rt__in_lib(R, ar));
}

/* Pushes where a FAIL points, then the library line (or ""). A FAIL names the
 * scenario's own line whoever raised it and with whatever level: the frame
 * `level` up when it is the scenario's; else the first scenario frame above
 * it (a library helper the scenario called, however deep); else, when `level`
 * counted past the scenario (a library waiter called straight from it), the
 * nearest scenario frame below. A library frame on the way is named in
 * brackets, " (in lib.lua:12)": the one at `level` if it is the library's,
 * else the innermost. */
#define RT_WHERE_DEPTH 64
static void rt__where(lua_State *L, rt *R, int level) {
  lua_Debug fr[RT_WHERE_DEPTH];
  int n = 0, target = -1, lib = -1;
  for (int l = 1; n < RT_WHERE_DEPTH && lua_getstack(L, l, &fr[n]); l++, n++)
    if (!lua_getinfo(L, "Sl", &fr[n])) fr[n].currentline = -1;
  int at = level - 1; /* fr[i] is frame i + 1 */
  for (int i = at < 0 ? 0 : at; i < n && target < 0; i++)
    if (rt__scenario_frame(R, &fr[i])) target = i;
  for (int i = (at < n ? at : n) - 1; i >= 0 && target < 0; i--)
    if (rt__scenario_frame(R, &fr[i])) target = i;
  if (target < 0) { /* no scenario frame at all: a library task of its own */
    luaL_where(L, level);
    lua_pushliteral(L, "");
    return;
  }
  if (at >= 0 && at < target && fr[at].currentline > 0) lib = at;
  for (int i = 0; i < target && lib < 0; i++)
    if (fr[i].currentline > 0) lib = i;
  lua_pushfstring(L, "%s:%d: ", fr[target].short_src, fr[target].currentline);
  if (lib >= 0) lua_pushfstring(L, " (in %s:%d)", fr[lib].short_src, fr[lib].currentline);
  else lua_pushliteral(L, "");
}

int rt_fail(lua_State *L, int level, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  lua_newtable(L);
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, FAIL_FIELD);
  rt *R = rt_from_lua(L);
  rt__where(L, R, level);    /* where, lib */
  lua_pushstring(L, buf);    /* where, lib, msg */
  lua_insert(L, -2);         /* where, msg, lib */
  lua_concat(L, 3);
  cJSON *ev = evlog_add(R->cfg.log, "expect.fail");
  cJSON_AddStringToObject(ev, "msg", lua_tostring(L, -1));
  evlog_commit(R->cfg.log);
  lua_setfield(L, -2, "message");
  return lua_error(L);
}

void rt_where_author(lua_State *L) {
  rt *R = rt_from_lua(L);
  lua_Debug ar;
  for (int l = 1; lua_getstack(L, l, &ar); l++) {
    if (!lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0 || ar.source[0] == '=') continue;
    if (R && R->cfg.lib_dir && rt__in_lib(R, &ar)) continue;
    lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
    return;
  }
  luaL_where(L, 1);
}

void rt_check_keys(lua_State *L, int idx, const char *what, const char *const *keys) {
  idx = lua_absindex(L, idx);
  if (!lua_istable(L, idx)) return;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    int known = 0;
    if (lua_type(L, -1) == LUA_TSTRING)
      for (const char *const *k = keys; *k && !known; k++) known = !strcmp(*k, lua_tostring(L, -1));
    if (known) continue;
    luaL_Buffer b;
    rt_where_author(L);                      /* key, where */
    const char *where = lua_tostring(L, -1);
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : luaL_typename(L, -2);
    luaL_buffinit(L, &b);
    luaL_addstring(&b, where);
    luaL_addstring(&b, what);
    luaL_addstring(&b, ": unknown key '");
    luaL_addstring(&b, key);
    luaL_addstring(&b, "' (");
    for (const char *const *k = keys; *k; k++) {
      if (k != keys) luaL_addstring(&b, ", ");
      luaL_addstring(&b, *k);
    }
    luaL_addstring(&b, ")");
    luaL_pushresult(&b);
    lua_error(L);
  }
}

void rt_lock_globals(rt *R) { rt__lock_globals(R->L); }
