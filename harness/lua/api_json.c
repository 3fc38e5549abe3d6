/* Lua module `json`: decode and encode with cJSON.
 * json.decode(text) -> value | nil, "why"; json.encode(value) -> text;
 * json.null stands for JSON null in both directions. */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "api.h"

static const char null_key = 0;

void api_push_json(lua_State *L, const cJSON *j, int depth) {
  luaL_checkstack(L, 4, "json too deep");
  if (depth > 64) {
    lua_pushnil(L);
    return;
  }
  if (cJSON_IsNull(j)) {
    lua_pushlightuserdata(L, (void *)&null_key);
  } else if (cJSON_IsBool(j)) {
    lua_pushboolean(L, cJSON_IsTrue(j));
  } else if (cJSON_IsNumber(j)) {
    double d = j->valuedouble;
    if (d == (double)(lua_Integer)d && d > -9e15 && d < 9e15)
      lua_pushinteger(L, (lua_Integer)d);
    else
      lua_pushnumber(L, d);
  } else if (cJSON_IsString(j)) {
    lua_pushstring(L, j->valuestring);
  } else if (cJSON_IsArray(j)) {
    lua_createtable(L, cJSON_GetArraySize(j), 0);
    int i = 1;
    for (const cJSON *c = j->child; c; c = c->next) {
      api_push_json(L, c, depth + 1);
      lua_rawseti(L, -2, i++);
    }
  } else if (cJSON_IsObject(j)) {
    lua_newtable(L);
    for (const cJSON *c = j->child; c; c = c->next) {
      api_push_json(L, c, depth + 1);
      lua_setfield(L, -2, c->string ? c->string : "");
    }
  } else {
    lua_pushnil(L);
  }
}

static int is_array(lua_State *L, int idx, int *n) {
  lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
  lua_Integer count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (!lua_isinteger(L, -1)) {
      lua_pop(L, 1);
      return 0;
    }
    count++;
  }
  *n = (int)len;
  return count == len;
}

/* Builds the JSON of the value at idx, or returns NULL with err (nothing
 * left allocated: a deep or self-referencing table, a function, a non-string
 * key never leak what was built so far). */
static cJSON *to_json(lua_State *L, int idx, int depth, char *err, size_t errlen) {
  idx = lua_absindex(L, idx);
  if (depth > 64) {
    snprintf(err, errlen, "json.encode: nesting deeper than 64 (a table that holds itself?)");
    return NULL;
  }
  switch (lua_type(L, idx)) {
  case LUA_TNIL:
    return cJSON_CreateNull();
  case LUA_TBOOLEAN:
    return cJSON_CreateBool(lua_toboolean(L, idx));
  case LUA_TNUMBER:
    return cJSON_CreateNumber(lua_tonumber(L, idx));
  case LUA_TSTRING:
    return cJSON_CreateString(lua_tostring(L, idx));
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == &null_key) return cJSON_CreateNull();
    break;
  case LUA_TTABLE: {
    int n;
    if (!lua_checkstack(L, 4)) {
      snprintf(err, errlen, "json.encode: too deep");
      return NULL;
    }
    if (is_array(L, idx, &n) && n > 0) { /* {} encodes as an object */
      cJSON *a = cJSON_CreateArray();
      for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        cJSON *item = to_json(L, -1, depth + 1, err, errlen);
        lua_pop(L, 1);
        if (!item) {
          cJSON_Delete(a);
          return NULL;
        }
        cJSON_AddItemToArray(a, item);
      }
      return a;
    }
    cJSON *o = cJSON_CreateObject();
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      cJSON *item = NULL;
      if (lua_type(L, -2) != LUA_TSTRING) snprintf(err, errlen, "json.encode: object keys must be strings");
      else item = to_json(L, -1, depth + 1, err, errlen);
      if (!item) {
        lua_pop(L, 2);
        cJSON_Delete(o);
        return NULL;
      }
      cJSON_AddItemToObject(o, lua_tostring(L, -2), item);
      lua_pop(L, 1);
    }
    return o;
  }
  default:
    break;
  }
  snprintf(err, errlen, "json.encode: cannot encode a %s", luaL_typename(L, idx));
  return NULL;
}

cJSON *api_to_json(lua_State *L, int idx, int depth) {
  char err[160];
  cJSON *j = to_json(L, idx, depth, err, sizeof err);
  if (!j) luaL_error(L, "%s", err);
  return j;
}

static int l_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(s, len, &end, 0);
  if (!j) {
    lua_pushnil(L);
    size_t at = end && end >= s ? (size_t)(end - s) : 0;
    lua_pushfstring(L, "invalid JSON at byte %d", (int)at);
    return 2;
  }
  /* one value and nothing after it but white space: '{"a":1} junk' is garbage */
  while (end < s + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) end++;
  if (end < s + len) {
    cJSON_Delete(j);
    lua_pushnil(L);
    lua_pushfstring(L, "invalid JSON at byte %d (data after the value)", (int)(end - s));
    return 2;
  }
  api_push_json(L, j, 0);
  cJSON_Delete(j);
  return 1;
}

static int l_encode(lua_State *L) {
  luaL_checkany(L, 1);
  cJSON *j = api_to_json(L, 1, 0);
  char *s = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  if (!s) return luaL_error(L, "json.encode: out of memory");
  lua_pushstring(L, s);
  cJSON_free(s);
  return 1;
}

int api_open_json(lua_State *L) {
  static const luaL_Reg fns[] = {{"decode", l_decode}, {"encode", l_encode}, {NULL, NULL}};
  luaL_newlib(L, fns);
  lua_pushlightuserdata(L, (void *)&null_key);
  lua_setfield(L, -2, "null");
  return 1;
}
