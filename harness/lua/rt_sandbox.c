/* rt_sandbox: the globals a scenario may use (allow-list), require from the library folders, the locked global table. */
#include "rt_internal.h"
#include "rt_libs.h"

#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "lua_match.h"

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

void rt__sandbox(lua_State *L) {
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

void rt_lock_globals(rt *R) { rt__lock_globals(R->L); }
