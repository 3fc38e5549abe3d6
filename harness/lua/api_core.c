/* Lua module `otahil`: time, sleep, the event log, background tasks, FAIL.
 *   otahil.now()                      seconds since the scenario started
 *   otahil.sleep(s)                   yields for s seconds (scaled by --timeout-multiplier)
 *   otahil.log(msg [, fields])        appends a "log" event
 *   otahil.event(kind, fields)        appends an event of any kind (for dialect helpers)
 *   otahil.cursor()                   how many events the log holds now
 *   otahil.next_event(match [, {from=, timeout=}]) -> event, cursor | nil, "timeout"
 *   otahil.spawn(fn)                  runs fn as a background task of the scenario
 *   otahil.fail(msg [, level])        FAIL: the device did something wrong
 *   otahil.expect(cond, msg)          FAIL with msg unless cond
 */
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <mosquitto.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

#define ENV_KEY "otahil.env"

void api_env_set(lua_State *L, api_env *env) {
  lua_pushlightuserdata(L, env);
  lua_setfield(L, LUA_REGISTRYINDEX, ENV_KEY);
}

api_env *api_env_get(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, ENV_KEY);
  api_env *env = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!env) luaL_error(L, "otahil: no run environment (internal error)");
  return env;
}

int api_file_allowed(lua_State *L, const char *path, char *err, size_t errlen) {
  api_env *env = api_env_get(L);
  if (!env->files && !env->work_dir) return 0;
  char real[PATH_MAX];
  if (!realpath(path, real)) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  size_t n = env->work_dir ? strlen(env->work_dir) : 0;
  if (n && strncmp(real, env->work_dir, n) == 0 && real[n] == '/') return 0;
  for (const char *const *f = env->files; f && *f; f++)
    if (strcmp(real, *f) == 0) return 0;
  snprintf(err, errlen, "%s is not a firmware image of the lab file (a scenario reads only those)", path);
  return -1;
}

/* ---- matchers ------------------------------------------------------------ */

enum { M_STR, M_NUM, M_BOOL, M_TOPIC, M_RE, M_CONTAINS };

typedef struct m_test {
  int op;
  char *key;
  char *str;
  double num;
  regex_t re;
} m_test;

struct api_match {
  m_test *t;
  size_t n, cap;
};

api_match *api_match_new(void) {
  api_match *m = calloc(1, sizeof *m);
  if (!m) abort();
  return m;
}

static m_test *m_push(api_match *m, int op, const char *key) {
  if (m->n == m->cap) {
    m->cap = m->cap ? m->cap * 2 : 4;
    m->t = realloc(m->t, m->cap * sizeof *m->t);
    if (!m->t) abort();
  }
  m_test *t = &m->t[m->n++];
  memset(t, 0, sizeof *t);
  t->op = op;
  t->key = strdup(key);
  return t;
}

void api_match_str(api_match *m, const char *key, const char *value) {
  int op = strcmp(key, "topic") == 0 ? M_TOPIC : strcmp(key, "contains") == 0 ? M_CONTAINS : M_STR;
  m_push(m, op, key)->str = strdup(value);
}

void api_match_num(api_match *m, const char *key, double value) { m_push(m, M_NUM, key)->num = value; }

void api_match_lua(api_match *m, lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "match: keys must be strings");
    const char *k = lua_tostring(L, -2);
    if (strcmp(k, "re") == 0) {
      const char *pat = luaL_checkstring(L, -1);
      m_test *t = m_push(m, M_RE, k);
      t->str = strdup(pat);
      int rc = regcomp(&t->re, pat, REG_EXTENDED | REG_NOSUB);
      if (rc != 0) {
        char buf[256];
        regerror(rc, &t->re, buf, sizeof buf);
        m->n--; /* not compiled: nothing to free but the strings */
        free(t->key);
        free(t->str);
        luaL_error(L, "bad regex '%s': %s", pat, buf);
      }
    } else if (lua_type(L, -1) == LUA_TSTRING) {
      api_match_str(m, k, lua_tostring(L, -1));
    } else if (lua_type(L, -1) == LUA_TNUMBER) {
      api_match_num(m, k, lua_tonumber(L, -1));
    } else if (lua_type(L, -1) == LUA_TBOOLEAN) {
      m_push(m, M_BOOL, k)->num = lua_toboolean(L, -1);
    } else {
      luaL_error(L, "match: '%s' must be a string, number or boolean", k);
    }
    lua_pop(L, 1);
  }
}

static const char *text_of(const cJSON *ev) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, "line");
  if (!cJSON_IsString(v)) v = cJSON_GetObjectItemCaseSensitive(ev, "payload");
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

int api_match_test(const api_match *m, const cJSON *ev) {
  for (size_t i = 0; i < m->n; i++) {
    const m_test *t = &m->t[i];
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, t->key);
    switch (t->op) {
    case M_STR:
      if (!cJSON_IsString(v) || strcmp(v->valuestring, t->str) != 0) return 0;
      break;
    case M_NUM:
      if (!cJSON_IsNumber(v) || v->valuedouble != t->num) return 0;
      break;
    case M_BOOL:
      if (!cJSON_IsBool(v) || (cJSON_IsTrue(v) ? 1 : 0) != (int)t->num) return 0;
      break;
    case M_TOPIC: {
      bool ok = false;
      if (!cJSON_IsString(v) || mosquitto_topic_matches_sub(t->str, v->valuestring, &ok) != 0 || !ok)
        return 0;
      break;
    }
    case M_RE: {
      const char *s = text_of(ev);
      if (!s || regexec(&t->re, s, 0, NULL, 0) != 0) return 0;
      break;
    }
    case M_CONTAINS: {
      const char *s = text_of(ev);
      if (!s || !strstr(s, t->str)) return 0;
      break;
    }
    }
  }
  return 1;
}

void api_match_free(void *p) {
  api_match *m = p;
  if (!m) return;
  for (size_t i = 0; i < m->n; i++) {
    free(m->t[i].key);
    free(m->t[i].str);
    if (m->t[i].op == M_RE) regfree(&m->t[i].re);
  }
  free(m->t);
  free(m);
}

static int box_gc(lua_State *L) {
  api_match **box = lua_touserdata(L, 1);
  api_match_free(*box);
  *box = NULL;
  return 0;
}

api_match *api_check_match(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  api_match **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = api_match_new();
  if (luaL_newmetatable(L, "otahil.matchbox")) {
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  api_match_lua(*box, L, idx); /* may raise: the box frees the match */
  api_match *m = *box;
  *box = NULL;
  lua_pop(L, 1);
  return m;
}

/* ---- waiting on the log -------------------------------------------------- */

typedef struct scan {
  api_match *m;
  size_t *cursor;
  api_amend_fn amend;
  void *amend_arg;
} scan;

static void scan_free(void *p) {
  scan *s = p;
  api_match_free(s->m);
  free(s);
}

static int scan_check(rt_wait *w, lua_State *co, int timed_out) {
  scan *s = rt_wait_data(w);
  evlog *log = rt_log(rt_wait_rt(w));
  size_t n = evlog_count(log);
  for (size_t i = *s->cursor; i < n; i++) {
    const cJSON *ev = evlog_get(log, i);
    if (api_match_test(s->m, ev)) {
      *s->cursor = i + 1;
      api_push_json(co, ev, 0);
      if (s->amend) s->amend(s->amend_arg, co, i);
      lua_pushinteger(co, (lua_Integer)(i + 1));
      return 2;
    }
  }
  (void)timed_out;
  return 0;
}

int api_wait_event_amend(lua_State *L, api_match *m, size_t *cursor, double timeout_s, api_amend_fn amend,
                         void *arg) {
  scan *s = malloc(sizeof *s);
  if (!s) abort();
  s->m = m;
  s->cursor = cursor;
  s->amend = amend;
  s->amend_arg = arg;
  return rt_wait_yield(L, scan_check, s, scan_free, timeout_s);
}

int api_wait_event(lua_State *L, api_match *m, size_t *cursor, double timeout_s) {
  return api_wait_event_amend(L, m, cursor, timeout_s, NULL, NULL);
}

double api_optnumfield(lua_State *L, int idx, const char *key, double def) {
  if (!lua_istable(L, idx)) return def;
  lua_getfield(L, idx, key);
  double v = def;
  if (!lua_isnil(L, -1)) {
    if (!lua_isnumber(L, -1)) luaL_error(L, "option '%s' must be a number", key);
    v = lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

/* ---- the module ---------------------------------------------------------- */

static int l_now(lua_State *L) {
  lua_pushnumber(L, evlog_now(rt_log(rt_from_lua(L))));
  return 1;
}

static int sleep_check(rt_wait *w, lua_State *co, int timed_out) {
  (void)w;
  if (!timed_out) return 0;
  lua_pushboolean(co, 1);
  return 1;
}

static int l_sleep(lua_State *L) {
  double s = luaL_checknumber(L, 1);
  if (s < 0) return luaL_error(L, "sleep: negative duration");
  return rt_wait_yield(L, sleep_check, NULL, NULL, s);
}

static void add_fields(lua_State *L, int idx, cJSON *ev) {
  if (!lua_istable(L, idx)) return;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    size_t len = 0;
    if (lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), "t") != 0 &&
        strcmp(lua_tostring(L, -2), "kind") != 0) {
      if (lua_type(L, -1) == LUA_TSTRING && (lua_tolstring(L, -1, &len), len > EVLOG_STRING_MAX)) {
        /* cut here, before a copy of all of it is made (the log would cut it anyway) */
        char *cut = strndup(lua_tostring(L, -1), EVLOG_STRING_MAX);
        if (!cut) abort();
        cJSON_AddStringToObject(ev, lua_tostring(L, -2), cut);
        free(cut);
        char key[128];
        snprintf(key, sizeof key, "%.100s_len", lua_tostring(L, -2));
        cJSON_AddNumberToObject(ev, key, (double)len);
      } else {
        cJSON_AddItemToObject(ev, lua_tostring(L, -2), api_to_json(L, -1, 0));
      }
    }
    lua_pop(L, 1);
  }
}

static int l_log(lua_State *L) {
  rt *R = rt_from_lua(L);
  const char *msg = luaL_checkstring(L, 1);
  cJSON *ev = evlog_add(rt_log(R), "log");
  cJSON_AddStringToObject(ev, "msg", msg);
  add_fields(L, 2, ev);
  evlog_commit(rt_log(R));
  return 0;
}

static int l_event(lua_State *L) {
  rt *R = rt_from_lua(L);
  const char *kind = luaL_checkstring(L, 1);
  cJSON *ev = evlog_add(rt_log(R), kind);
  add_fields(L, 2, ev);
  evlog_commit(rt_log(R));
  lua_pushinteger(L, (lua_Integer)evlog_count(rt_log(R)));
  return 1;
}

static int l_cursor(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)evlog_count(rt_log(rt_from_lua(L))));
  return 1;
}

/* The cursor of next_event lives in a userdata passed as an extra argument so
 * that it outlives the yield. */
static int l_next_event(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  API_KEYS(L, 2, "next_event", "from", "timeout");
  lua_Integer from = (lua_Integer)api_optnumfield(L, 2, "from", 0);
  double timeout = api_optnumfield(L, 2, "timeout", 10);
  if (from < 0) return luaL_error(L, "next_event: 'from' must be >= 0");
  api_match *m = api_check_match(L, 1);
  size_t *cur = lua_newuserdatauv(L, sizeof *cur, 0);
  *cur = (size_t)from;
  return api_wait_event(L, m, cur, timeout);
}

static int l_spawn(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  rt_spawn(L, 1);
  return 0;
}

/* t:expect(...) / t:fail(...) written with a colon pass `t` (or the otahil
 * table) first: drop it, or t:expect(false, "x") would test `t` and pass. */
static void drop_self(lua_State *L, lua_CFunction fn, const char *name) {
  if (lua_type(L, 1) != LUA_TTABLE) return;
  int same = lua_getfield(L, 1, name) == LUA_TFUNCTION && lua_tocfunction(L, -1) == fn;
  lua_pop(L, 1);
  if (same) lua_remove(L, 1);
}

static int l_fail(lua_State *L) {
  drop_self(L, l_fail, "fail");
  const char *msg = luaL_optstring(L, 1, "expectation failed");
  int level = (int)luaL_optinteger(L, 2, 1);
  return rt_fail(L, level, "%s", msg);
}

static int l_expect(lua_State *L) {
  drop_self(L, l_expect, "expect");
  if (lua_toboolean(L, 1)) {
    lua_settop(L, 1);
    return 1;
  }
  const char *msg = luaL_optstring(L, 2, "expectation failed");
  return rt_fail(L, 1, "%s", msg);
}

#define API_MAX_KEYS 64

int api_l_check_keys(lua_State *L) {
  if (lua_isnoneornil(L, 1)) return 0;
  luaL_checktype(L, 1, LUA_TTABLE);
  const char *what = luaL_checkstring(L, 2);
  const char *keys[API_MAX_KEYS + 1];
  int n = 0;
  if (lua_istable(L, 3)) {
    lua_Integer len = luaL_len(L, 3);
    for (lua_Integer i = 1; i <= len && n < API_MAX_KEYS; i++) {
      lua_rawgeti(L, 3, i); /* stays on the stack: the string lives while it does */
      keys[n++] = luaL_checkstring(L, -1);
    }
  } else {
    for (int i = 3; i <= lua_gettop(L) && n < API_MAX_KEYS; i++) keys[n++] = luaL_checkstring(L, i);
  }
  keys[n] = NULL;
  rt_check_keys(L, 1, what, keys);
  return 0;
}

int api_open_core(lua_State *L) {
  static const luaL_Reg fns[] = {{"check_keys", api_l_check_keys},{"now", l_now},       {"sleep", l_sleep},   {"log", l_log},
                                 {"event", l_event},   {"cursor", l_cursor}, {"next_event", l_next_event},
                                 {"spawn", l_spawn},   {"fail", l_fail},     {"expect", l_expect},
                                 {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
