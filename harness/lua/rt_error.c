/* rt_error: error and FAIL messages in one line, located at the author's line (not the scenario library's); unknown-key checks. */
#include "rt_internal.h"
#include "rt_libs.h"

#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Does `m` begin with a location ("file:12: ")? */
static int rt__located(const char *m) {
  const char *c = strchr(m, ':');
  if (!c || c == m) return 0;
  const char *d = c + 1;
  while (*d >= '0' && *d <= '9') d++;
  return d > c + 1 && *d == ':';
}

static int rt__in_lib(const rt *R, const lua_Debug *ar) {
  return ar->source[0] == '@' && rt_libs_holds(R->cfg.lib_dir, R->cfg.lab_libs, ar->source + 1);
}

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
void rt__innermost(lua_State *co, char *out, size_t len) {
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
void rt__error_text(lua_State *co, int idx, char *out, size_t len) {
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
int rt__msgh(lua_State *L) {
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
