/* Lua module `json`: decode and encode with cJSON.
 * json.decode(text) -> value | nil, "why"; json.encode(value) -> text;
 * json.null stands for JSON null in both directions.
 *
 * The cJSON tree of a decode or an encode is the scenario's memory too: while
 * json.decode / json.encode run, cJSON allocates through the Lua state's own
 * (capped) allocator, so a 20 MB "[1,1,...]" cannot build a 600 MB tree the
 * cap never sees. cJSON's hooks are process-wide, so they are ours only inside
 * those calls, with no Lua error able to leave them set (the steps that may
 * raise run under lua_pcall), and every block is freed before they go back. */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "api.h"

static const char null_key = 0;

/* ---- cJSON on the Lua state's allocator ---------------------------------- */

typedef struct {
  lua_Alloc f;
  void *ud;
  int oom; /* an allocation was refused: the memory cap */
} lua_heap;

static lua_heap *heap; /* set only inside heap_begin .. heap_end */

typedef union {
  size_t size;
  max_align_t align;
} heap_hdr;

static void *heap_malloc(size_t n) {
  heap_hdr *h = heap->f(heap->ud, NULL, 0, sizeof *h + n);
  if (!h) {
    heap->oom = 1;
    return NULL;
  }
  h->size = sizeof *h + n;
  return h + 1;
}

static void heap_free(void *p) {
  if (!p) return;
  heap_hdr *h = (heap_hdr *)p - 1;
  heap->f(heap->ud, h, h->size, 0);
}

static void heap_begin(lua_State *L, lua_heap *hp) {
  hp->f = lua_getallocf(L, &hp->ud);
  hp->oom = 0;
  heap = hp;
  cJSON_Hooks hooks = {heap_malloc, heap_free};
  cJSON_InitHooks(&hooks);
}

static void heap_end(void) {
  cJSON_InitHooks(NULL);
  heap = NULL;
}

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
 * key never leak what was built so far). It raises no Lua error: it reads the
 * table raw and converts nothing (a key is read as a string only when it is
 * one), so json.encode may run it with cJSON on the Lua allocator. A cJSON
 * allocation refused (the cap) is a NULL item: reported as err. */
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
      if (!a) return NULL;
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
    if (!o) return NULL;
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
      if (!cJSON_AddItemToObject(o, lua_tostring(L, -2), item)) { /* its key copy was refused */
        cJSON_Delete(item);
        lua_pop(L, 2);
        cJSON_Delete(o);
        snprintf(err, errlen, "json.encode: out of memory");
        return NULL;
      }
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

/* Under lua_pcall: the Lua value of the tree (arg 1, a light userdata). */
static int push_tree(lua_State *L) {
  api_push_json(L, lua_touserdata(L, 1), 0);
  return 1;
}

/* Under lua_pcall: the text (arg 1, a light userdata) as a Lua string. */
static int push_text(lua_State *L) {
  lua_pushstring(L, lua_touserdata(L, 1));
  return 1;
}

/* Runs fn(p) protected, then frees `tree` / `text` and gives cJSON its hooks
 * back, then raises what fn raised; else leaves fn's result on the stack. */
static int finish(lua_State *L, lua_CFunction fn, void *p, cJSON *tree, char *text) {
  lua_pushcfunction(L, fn);
  lua_pushlightuserdata(L, p);
  int st = lua_pcall(L, 1, 1, 0);
  cJSON_Delete(tree);
  if (text) cJSON_free(text);
  heap_end();
  if (st != LUA_OK) return lua_error(L);
  return 1;
}

static int l_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  const char *end = NULL;
  lua_heap hp;
  heap_begin(L, &hp);
  cJSON *j = cJSON_ParseWithLengthOpts(s, len, &end, 0);
  if (!j) {
    heap_end();
    if (hp.oom) return luaL_error(L, "json.decode: memory cap exceeded (a %d-byte text)", (int)len);
    lua_pushnil(L);
    size_t at = end && end >= s ? (size_t)(end - s) : 0;
    lua_pushfstring(L, "invalid JSON at byte %d", (int)at);
    return 2;
  }
  /* one value and nothing after it but white space: '{"a":1} junk' is garbage */
  while (end < s + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) end++;
  if (end < s + len) {
    cJSON_Delete(j);
    heap_end();
    lua_pushnil(L);
    lua_pushfstring(L, "invalid JSON at byte %d (data after the value)", (int)(end - s));
    return 2;
  }
  return finish(L, push_tree, j, j, NULL);
}

static int l_encode(lua_State *L) {
  luaL_checkany(L, 1);
  char err[160];
  lua_heap hp;
  heap_begin(L, &hp);
  cJSON *j = to_json(L, 1, 0, err, sizeof err); /* raises no Lua error (see to_json) */
  char *s = j ? cJSON_PrintUnformatted(j) : NULL;
  cJSON_Delete(j);
  if (!s) {
    heap_end();
    if (hp.oom) return luaL_error(L, "json.encode: memory cap exceeded");
    return luaL_error(L, "%s", j ? "json.encode: out of memory" : err);
  }
  return finish(L, push_text, s, NULL, s);
}

int api_open_json(lua_State *L) {
  static const luaL_Reg fns[] = {{"decode", l_decode}, {"encode", l_encode}, {NULL, NULL}};
  luaL_newlib(L, fns);
  lua_pushlightuserdata(L, (void *)&null_key);
  lua_setfield(L, -2, "null");
  return 1;
}
