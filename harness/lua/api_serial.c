#include "api_serial.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serial_relay.h"

#define MT "otahil.serial"

struct serialdev {
  evlog *log; /* NULL once closing: nothing is logged after the case */
  serial_relay *r;
  char name[96];
};

static const char *dir_name(enum serial_dir d) { return d == SERIAL_UP ? "up" : "down"; }

static void on_event(const serial_event *e, void *user) {
  serialdev *s = user;
  if (!s->log) return;
  cJSON *ev = evlog_add(s->log, "fault");
  cJSON_AddStringToObject(ev, "stream", s->name);
  cJSON_AddStringToObject(ev, "fault", e->action);
  cJSON_AddStringToObject(ev, "action", e->action);
  cJSON_AddStringToObject(ev, "dir", dir_name(e->dir));
  cJSON_AddNumberToObject(ev, "id", e->fault_id);
  cJSON_AddNumberToObject(ev, "offset", (double)e->offset);
  if (e->old_byte >= 0) cJSON_AddNumberToObject(ev, "old_byte", e->old_byte);
  if (e->new_byte >= 0) cJSON_AddNumberToObject(ev, "new_byte", e->new_byte);
  evlog_commit(s->log);
}

int serialdev_open(uv_loop_t *loop, const char *name, evlog *log, uint64_t seed,
                   serialdev **out, char *err, size_t errlen) {
  serialdev *s = calloc(1, sizeof *s);
  if (!s) abort();
  s->log = log;
  snprintf(s->name, sizeof s->name, "%s/serial", name);
  if (serial_relay_open(loop, seed, on_event, s, &s->r, err, errlen) != 0) {
    free(s);
    return -1;
  }
  *out = s;
  return 0;
}

const char *serialdev_module_path(const serialdev *s) { return serial_relay_path_a(s->r); }
const char *serialdev_mcu_path(const serialdev *s) { return serial_relay_path_b(s->r); }

void serialdev_close(serialdev *s) {
  if (!s) return;
  s->log = NULL;
  serial_relay_close(s->r, free, s);
}

/* ---- Lua ----------------------------------------------------------------- */

static serialdev *check(lua_State *L) {
  serialdev **u = luaL_checkudata(L, 1, MT);
  if (!(*u)->log) luaL_error(L, "serial: the case has ended");
  return *u;
}

static enum serial_dir opt_dir(lua_State *L, int idx) {
  lua_getfield(L, idx, "dir");
  const char *d = lua_isnil(L, -1) ? "down" : luaL_checkstring(L, -1);
  enum serial_dir r = strcmp(d, "down") == 0 ? SERIAL_DOWN : strcmp(d, "up") == 0 ? SERIAL_UP
                      : strcmp(d, "both") == 0                                    ? SERIAL_BOTH
                                                                                  : 0;
  if (!r) luaL_error(L, "serial: dir must be \"down\", \"up\" or \"both\", not \"%s\"", d);
  lua_pop(L, 1);
  return r;
}

static uint64_t opt_count(lua_State *L, int idx, const char *key) {
  double v = api_optnumfield(L, idx, key, 0);
  if (v < 0 || v > 1e15) luaL_error(L, "serial: %s must be >= 0", key);
  return (uint64_t)v;
}

static int add(lua_State *L, serialdev *s, serial_fault *f, const char *what) {
  char err[256];
  uint32_t id = 0;
  if (serial_relay_fault_add(s->r, f, &id, err, sizeof err) != 0) {
    return luaL_error(L, "%s: %s", s->name, err);
  }
  cJSON *ev = evlog_add(s->log, "fault.add");
  cJSON_AddStringToObject(ev, "stream", s->name);
  cJSON_AddStringToObject(ev, "spec", what);
  cJSON_AddStringToObject(ev, "dir", f->dir == SERIAL_BOTH ? "both" : dir_name(f->dir));
  cJSON_AddNumberToObject(ev, "id", id);
  evlog_commit(s->log);
  lua_pushinteger(L, id);
  return 1;
}

static int l_corrupt(lua_State *L) {
  serialdev *s = check(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  API_KEYS(L, 2, "serial corrupt", "bytes", "random", "within", "every", "xor", "dir");
  serial_fault f = {.kind = SERIAL_CORRUPT};
  f.dir = opt_dir(L, 2);
  lua_getfield(L, 2, "bytes");
  if (lua_istable(L, -1)) {
    lua_Integer n = luaL_len(L, -1);
    if (n > SERIAL_MAX_OFFSETS) return luaL_error(L, "serial corrupt: at most %d bytes", SERIAL_MAX_OFFSETS);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_geti(L, -1, i);
      lua_Integer v = luaL_checkinteger(L, -1);
      if (v < 0) return luaL_error(L, "serial corrupt: byte offsets must be >= 0");
      f.offsets[f.n_offsets++] = (uint64_t)v;
      lua_pop(L, 1);
    }
  } else if (!lua_isnil(L, -1)) {
    return luaL_error(L, "serial corrupt: bytes must be a list of offsets");
  }
  lua_pop(L, 1);
  f.random = (uint32_t)opt_count(L, 2, "random");
  f.within = opt_count(L, 2, "within");
  f.every = opt_count(L, 2, "every");
  f.xor_mask = (int)opt_count(L, 2, "xor");
  return add(L, s, &f, "corrupt");
}

static int l_drop(lua_State *L) {
  serialdev *s = check(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  API_KEYS(L, 2, "serial drop", "at", "count", "dir");
  serial_fault f = {.kind = SERIAL_DROP};
  f.dir = opt_dir(L, 2);
  f.at = opt_count(L, 2, "at");
  f.count = opt_count(L, 2, "count");
  return add(L, s, &f, "drop");
}

static int l_clear(lua_State *L) {
  serialdev *s = check(L);
  serial_relay_fault_clear(s->r);
  cJSON *ev = evlog_add(s->log, "fault.clear");
  cJSON_AddStringToObject(ev, "stream", s->name);
  evlog_commit(s->log);
  return 0;
}

static int l_bytes(lua_State *L) {
  serialdev *s = check(L);
  const char *d = luaL_optstring(L, 2, "down");
  lua_pushinteger(L, (lua_Integer)serial_relay_bytes(s->r, strcmp(d, "up") == 0 ? SERIAL_UP : SERIAL_DOWN));
  return 1;
}

static int l_paths(lua_State *L) {
  serialdev *s = check(L);
  lua_pushstring(L, serialdev_module_path(s));
  lua_pushstring(L, serialdev_mcu_path(s));
  return 2;
}

static int l_tostring(lua_State *L) {
  serialdev **u = luaL_checkudata(L, 1, MT);
  lua_pushfstring(L, "serial line '%s'", (*u)->name);
  return 1;
}

void serialdev_push(lua_State *L, serialdev *s) {
  if (!s) { /* the device asked for no serial line */
    lua_pushnil(L);
    return;
  }
  serialdev **u = lua_newuserdatauv(L, sizeof *u, 0);
  *u = s;
  if (luaL_newmetatable(L, MT)) {
    static const luaL_Reg methods[] = {{"corrupt", l_corrupt}, {"drop", l_drop},   {"clear", l_clear},
                                       {"bytes", l_bytes},     {"paths", l_paths}, {NULL, NULL}};
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_setmetatable(L, -2);
}
