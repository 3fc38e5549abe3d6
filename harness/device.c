#include "device.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "uart_console.h"
#include "power_process.h"

#define MT "otahil.device"

struct device {
  uv_loop_t *loop;
  const lab_device *lab;
  console *con;
  int slave_fd;
  power_process *pp;
  evlog *log; /* the owning case's log, or NULL */
  int cutting;
};

typedef struct dev_ud {
  device *d;
  size_t cursor; /* console reads of this handle */
} dev_ud;

void device_vars_set(device_vars *v, const char *key, const char *value) {
  for (int i = 0; i < v->n; i++)
    if (strcmp(v->keys[i], key) == 0) {
      v->values[i] = value;
      return;
    }
  if (v->n < 32) {
    v->keys[v->n] = key;
    v->values[v->n++] = value;
  }
}

static void on_line(void *arg, const char *line, size_t len) {
  device *d = arg;
  (void)len;
  if (!d->log) return;
  cJSON *ev = evlog_add(d->log, "console");
  cJSON_AddStringToObject(ev, "device", d->lab->name);
  cJSON_AddStringToObject(ev, "line", line);
  evlog_commit(d->log);
}

static void on_power_exit(void *arg, int64_t status, int sig) {
  device *d = arg;
  if (!d->log) return;
  console_flush(d->con);
  cJSON *ev = evlog_add(d->log, "power");
  cJSON_AddStringToObject(ev, "device", d->lab->name);
  cJSON_AddStringToObject(ev, "state", "off");
  cJSON_AddStringToObject(ev, "how", d->cutting ? "cut" : "exited");
  if (!d->cutting) {
    cJSON_AddNumberToObject(ev, "status", (double)status);
    if (sig) cJSON_AddNumberToObject(ev, "signal", sig);
  }
  d->cutting = 0;
  evlog_commit(d->log);
}

device *device_new(uv_loop_t *loop, const lab_device *lab, char *err, size_t errlen) {
  device *d = calloc(1, sizeof *d);
  if (!d) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  d->loop = loop;
  d->lab = lab;
  if (console_open_pty(loop, on_line, d, &d->con, &d->slave_fd, err, errlen) != 0) {
    free(d);
    return NULL;
  }
  return d;
}

/* Expands {name} placeholders; returns a malloc'd string or NULL (unknown name in *bad). */
static char *expand(const char *s, const device_vars *v, char *bad, size_t badlen) {
  size_t cap = strlen(s) + 256, n = 0;
  char *out = malloc(cap);
  if (!out) abort();
  while (*s) {
    const char *close = *s == '{' ? strchr(s, '}') : NULL;
    const char *val = NULL;
    if (close) {
      size_t klen = (size_t)(close - s - 1);
      for (int i = 0; i < v->n; i++)
        if (strlen(v->keys[i]) == klen && memcmp(v->keys[i], s + 1, klen) == 0) val = v->values[i];
      if (!val) {
        snprintf(bad, badlen, "%.*s", (int)klen, s + 1);
        free(out);
        return NULL;
      }
    }
    size_t add = val ? strlen(val) : 1;
    if (n + add + 1 > cap) {
      cap = (n + add + 1) * 2;
      out = realloc(out, cap);
      if (!out) abort();
    }
    if (val) {
      memcpy(out + n, val, add);
      s = close + 1;
    } else {
      out[n] = *s++;
    }
    n += add;
  }
  out[n] = 0;
  return out;
}

int device_attach(device *d, evlog *log, const device_vars *vars, char *err, size_t errlen) {
  const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(d->lab->spec, "cmd");
  int argc = cJSON_GetArraySize(cmd);
  char **argv = calloc((size_t)argc + 1, sizeof *argv);
  if (!argv) abort();
  int i = 0, rc = 0;
  for (const cJSON *a = cmd->child; a; a = a->next, i++) {
    char bad[64];
    argv[i] = expand(a->valuestring, vars, bad, sizeof bad);
    if (!argv[i]) {
      snprintf(err, errlen, "device '%s': cmd uses the unknown placeholder {%s}", d->lab->name, bad);
      rc = -1;
      break;
    }
  }
  if (rc == 0) {
    if (d->pp) power_process_free(d->pp);
    d->pp = power_process_new(d->loop, argv, d->slave_fd, on_power_exit, d);
    d->log = log;
  }
  for (int k = 0; k < argc; k++) free(argv[k]);
  free(argv);
  return rc;
}

int device_power_cut(device *d) {
  if (!d->pp || !power_process_is_on(d->pp)) return 0;
  d->cutting = 1;
  power_process_off(d->pp, 0, 0);
  return 1;
}

int device_is_on(const device *d) { return d->pp && power_process_is_on(d->pp); }

void device_detach(device *d) {
  console_flush(d->con);
  d->log = NULL;
}

const char *device_name(const device *d) { return d->lab->name; }
const lab_device *device_lab(const device *d) { return d->lab; }

void device_free(device *d) {
  if (!d) return;
  d->log = NULL;
  power_process_free(d->pp);
  console_close(d->con);
  free(d);
}

/* ---- Lua ----------------------------------------------------------------- */

static dev_ud *check(lua_State *L) { return luaL_checkudata(L, 1, MT); }

static void power_event(device *d, const char *state, const char *how) {
  cJSON *ev = evlog_add(d->log, "power");
  cJSON_AddStringToObject(ev, "device", d->lab->name);
  cJSON_AddStringToObject(ev, "state", state);
  cJSON_AddStringToObject(ev, "how", how);
  evlog_commit(d->log);
}

static int l_power_on(lua_State *L) {
  dev_ud *u = check(L);
  device *d = u->d;
  if (!d->log) return luaL_error(L, "device '%s' is not attached to this scenario", d->lab->name);
  if (power_process_is_on(d->pp)) return 0;
  char err[512];
  if (power_process_on(d->pp, err, sizeof err) != 0) {
    luaL_where(L, 1);
    return luaL_error(L, "%sdevice '%s': power on: %s", lua_tostring(L, -1), d->lab->name, err);
  }
  power_event(d, "on", "process");
  return 0;
}

static int l_power_off(lua_State *L) {
  dev_ud *u = check(L);
  device *d = u->d;
  int graceful = 0;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "graceful");
    graceful = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  double timeout = api_optnumfield(L, 2, "timeout", 5);
  if (!d->pp || !power_process_is_on(d->pp)) {
    lua_pushboolean(L, 1);
    return 1;
  }
  size_t *cur = lua_newuserdatauv(L, sizeof *cur, 0);
  *cur = evlog_count(d->log);
  d->cutting = 1;
  power_event(d, "cutting", graceful ? "graceful" : "cut");
  power_process_off(d->pp, graceful, 2000);
  api_match *m = api_match_new();
  api_match_str(m, "kind", "power");
  api_match_str(m, "device", d->lab->name);
  api_match_str(m, "state", "off");
  return api_wait_event(L, m, cur, timeout);
}

static int l_is_on(lua_State *L) {
  lua_pushboolean(L, device_is_on(check(L)->d));
  return 1;
}

static int l_console_next(lua_State *L) {
  dev_ud *u = check(L);
  double timeout = api_optnumfield(L, 2, "timeout", 10);
  api_match *m = api_match_new();
  api_match_str(m, "kind", "console");
  api_match_str(m, "device", u->d->lab->name);
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "re");
    lua_getfield(L, 2, "contains");
    if (lua_isstring(L, -1)) api_match_str(m, "contains", lua_tostring(L, -1));
    lua_pop(L, 1);
    if (lua_isstring(L, -1)) {
      lua_newtable(L);
      lua_pushvalue(L, -2);
      lua_setfield(L, -2, "re");
      api_match *re = api_check_match(L, -1); /* validates the regex */
      lua_pop(L, 1);
      api_match_free(m);
      m = re;
      api_match_str(m, "kind", "console");
      api_match_str(m, "device", u->d->lab->name);
    }
    lua_pop(L, 1);
  }
  return api_wait_event(L, m, &u->cursor, timeout);
}

static int l_send(lua_State *L) {
  dev_ud *u = check(L);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  if (console_write(u->d->con, s, len) != 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "console write failed");
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int l_index(lua_State *L) {
  /* methods first, then the lab declaration (the user value) */
  luaL_getmetatable(L, MT);
  lua_getfield(L, -1, "methods");
  lua_pushvalue(L, 2);
  if (lua_rawget(L, -2) != LUA_TNIL) return 1;
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, 2);
  lua_gettable(L, -2);
  return 1;
}

static int l_tostring(lua_State *L) {
  lua_pushfstring(L, "device '%s'", check(L)->d->lab->name);
  return 1;
}

void device_push(lua_State *L, device *d) {
  dev_ud *u = lua_newuserdatauv(L, sizeof *u, 1);
  u->d = d;
  u->cursor = 0;
  api_push_json(L, d->lab->spec, 0);
  lua_pushstring(L, d->lab->name);
  lua_setfield(L, -2, "name");
  lua_setiuservalue(L, -2, 1);
  if (luaL_newmetatable(L, MT)) {
    static const luaL_Reg methods[] = {{"power_on", l_power_on},
                                       {"power_off", l_power_off},
                                       {"is_on", l_is_on},
                                       {"console_next", l_console_next},
                                       {"send", l_send},
                                       {NULL, NULL}};
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "methods");
    lua_pushcfunction(L, l_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_setmetatable(L, -2);
}
