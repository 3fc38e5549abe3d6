#include "device.h"

#include "atomic_file.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_power.h"
#include "api_uart.h"
#include "uart_console.h"
#include "device_power.h"
#include "device_deploy.h"

#define MT "otahil.device"
#define CLEANUP_WAIT_MS 5000.0

struct device {
  uv_loop_t *loop;
  const lab_device *lab;
  console *con;
  int slave_fd;
  device_power *pw;
  device_deploy *dep; /* the lab's deploy step, made at its first case; NULL without one */
  evlog *log; /* the owning case's log, or NULL */
  uint64_t case_start; /* console stream offset where the case began */
  uint64_t dropped_start; /* console_dropped() when the case began */
};

typedef struct dev_ud {
  device *d;
  size_t cursor; /* console reads of this handle */
} dev_ud;

static void on_line(void *arg, const char *line, size_t len) {
  device *d = arg;
  (void)len;
  if (!d->log) return;
  cJSON *ev = evlog_add(d->log, "console");
  cJSON_AddStringToObject(ev, "device", d->lab->name);
  cJSON_AddStringToObject(ev, "line", line);
  evlog_commit(d->log);
}

/* The console port went away (a gap starts) and came back: times in the case's clock. */
static void on_console_down(void *arg, const char *why, uint64_t offset) {
  device *d = arg;
  if (!d->log) return;
  cJSON *ev = evlog_add(d->log, "console.down");
  cJSON_AddStringToObject(ev, "device", d->lab->name);
  cJSON_AddStringToObject(ev, "port", console_describe(d->con));
  cJSON_AddStringToObject(ev, "why", why);
  cJSON_AddNumberToObject(ev, "offset", (double)(offset - d->case_start));
  evlog_commit(d->log);
}

static void on_console_up(void *arg, const console_gap *g) {
  device *d = arg;
  if (!d->log) return;
  double now = (double)uv_hrtime() / 1e9, t = evlog_now(d->log);
  cJSON *ev = evlog_add(d->log, "console.gap");
  cJSON_AddStringToObject(ev, "device", d->lab->name);
  cJSON_AddStringToObject(ev, "port", console_describe(d->con));
  cJSON_AddNumberToObject(ev, "down", t - (now - g->down_at));
  cJSON_AddNumberToObject(ev, "up", t - (now - g->up_at));
  cJSON_AddNumberToObject(ev, "seconds", g->up_at - g->down_at);
  /* bytes captured in this case before the gap; the stream goes on from there */
  cJSON_AddNumberToObject(ev, "bytes_before", g->offset > d->case_start ? (double)(g->offset - d->case_start) : 0);
  cJSON_AddStringToObject(ev, "why", g->why);
  evlog_commit(d->log);
}

/* Before a process device's "off" event: its last console lines come first. */
static void flush_console(void *arg) {
  device *d = arg;
  console_flush(d->con);
}

device *device_new(uv_loop_t *loop, const lab_device *lab, char *err, size_t errlen) {
  device *d = calloc(1, sizeof *d);
  if (!d) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  d->loop = loop;
  d->lab = lab;
  console_callbacks cb = {on_line, on_console_down, on_console_up, d};
  if (console_open(loop, &lab->console, &cb, &d->con, err, errlen) != 0) {
    free(d);
    return NULL;
  }
  d->slave_fd = console_slave_fd(d->con); /* -1 (no stdio) unless the console is a pty */
  d->pw = device_power_new(loop, lab, flush_console, d, err, errlen);
  if (!d->pw) {
    console_close(d->con);
    free(d);
    return NULL;
  }
  return d;
}

int device_attach(device *d, evlog *log, const device_vars *vars, char *err, size_t errlen) {
  int rc = device_power_attach(d->pw, log, vars, d->slave_fd, err, errlen);
  if (rc == 0) d->log = log;
  if (rc == 0) { /* the case's console starts here; older bytes were saved with their case */
    d->case_start = console_bytes(d->con);
    uart_capture_forget(console_capture(d->con), d->case_start);
    console_budget_reset(d->con); /* each case may capture its own share of a flood */
    d->dropped_start = console_dropped(d->con);
  }
  return rc;
}

int device_save_console(device *d, const char *path, char *err, size_t errlen) {
  console_flush(d->con);
  size_t len;
  const char *p = uart_capture_peek(console_capture(d->con), d->case_start, &len, NULL);
  char e[600];
  if (atomic_write_file(path, p, len, e, sizeof e) != 0) {
    snprintf(err, errlen, "the console of device '%s': %s", d->lab->name, e);
    return -1;
  }
  return 0;
}

int device_console_append(device *d, FILE *f, uint64_t *done) {
  size_t len;
  uint64_t at;
  uint64_t from = d->case_start + *done;
  const char *p = uart_capture_peek(console_capture(d->con), from, &len, &at);
  if (at > from) *done += at - from; /* the capture forgot some (its cap): skipped */
  if (len && fwrite(p, 1, len, f) != len) return -1;
  *done += len;
  return 0;
}

static int power_is_off(void *arg) { return device_power_is_off(arg); }

int device_run_deploy(device *d, const device_vars *vars, const char *lab_file, device_deploy_cb done, void *arg,
                      char *err, size_t errlen) {
  if (!d->dep) d->dep = device_deploy_new(d->loop, d->lab, lab_file);
  if (!d->dep) return 1;
  /* a board's start-of-case power off may still be running: wait as long as a cleanup may */
  double ready_s = (CLEANUP_WAIT_MS + device_power_cleanup_ms(d->pw)) / 1000.0;
  return device_deploy_start(d->dep, d->log, vars, power_is_off, d->pw, ready_s, done, arg, err, errlen);
}

int device_power_cut(device *d) {
  device_deploy_stop(d->dep);
  device_power_cleanup(d->pw);
  return !device_settled(d);
}

int device_is_on(const device *d) { return device_power_is_on(d->pw); }
int device_settled(const device *d) { return device_power_settled(d->pw) && !device_deploy_busy(d->dep); }
unsigned device_cleanup_ms(const device *d) { return device_power_cleanup_ms(d->pw); }

void device_detach(device *d) {
  console_flush(d->con);
  uint64_t dropped = console_dropped(d->con) - d->dropped_start;
  if (dropped && d->log) { /* a flooding device: what its console guard dropped */
    cJSON *ev = evlog_add(d->log, "console.dropped");
    cJSON_AddStringToObject(ev, "device", d->lab->name);
    cJSON_AddNumberToObject(ev, "bytes", (double)dropped);
    evlog_commit(d->log);
  }
  device_power_detach(d->pw);
  d->log = NULL;
}

const char *device_name(const device *d) { return d->lab->name; }
const lab_device *device_lab(const device *d) { return d->lab; }

void device_free(device *d) {
  if (!d) return;
  d->log = NULL;
  device_deploy_free(d->dep);
  device_power_free(d->pw);
  console_close(d->con);
  free(d);
}

/* ---- Lua ----------------------------------------------------------------- */

static dev_ud *check(lua_State *L) { return luaL_checkudata(L, 1, MT); }

/* power: see api_power.h */
static int l_power_on(lua_State *L) { return api_power_on(L, check(L)->d->pw); }
static int l_power_off(lua_State *L) { return api_power_off(L, check(L)->d->pw); }
static int l_power_cycle(lua_State *L) { return api_power_cycle(L, check(L)->d->pw); }
static int l_power_state(lua_State *L) { return api_power_state(L, check(L)->d->pw); }
static int l_is_on(lua_State *L) { return api_power_is_on(L, check(L)->d->pw); }

static int l_console_next(lua_State *L) {
  dev_ud *u = check(L);
  API_KEYS(L, 2, "console_next", "re", "contains", "timeout");
  double timeout = api_optnumfield(L, 2, "timeout", 10);
  /* {kind = "console", device = name, re = ..., contains = ...}: both tests apply */
  lua_newtable(L);
  if (lua_istable(L, 2)) {
    static const char *const keys[] = {"re", "contains"};
    for (int i = 0; i < 2; i++) {
      lua_getfield(L, 2, keys[i]);
      if (!lua_isnil(L, -1) && !lua_isstring(L, -1))
        return luaL_error(L, "console_next: %s must be a string", keys[i]);
      lua_setfield(L, -2, keys[i]);
    }
  }
  lua_pushstring(L, "console");
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, u->d->lab->name);
  lua_setfield(L, -2, "device");
  api_match *m = api_check_match(L, -1); /* validates the regex */
  lua_pop(L, 1);
  return api_wait_event(L, m, &u->cursor, timeout);
}

static int l_send(lua_State *L) {
  dev_ud *u = check(L);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  char err[300];
  if (console_send(u->d->con, s, len, err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
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

static int l_next(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2);
  if (lua_next(L, 1)) return 2;
  lua_pushnil(L);
  return 1;
}

/* pairs(t.device): the fields (the lab declaration), not the methods. */
static int l_pairs(lua_State *L) {
  check(L);
  lua_pushcfunction(L, l_next);
  lua_getiuservalue(L, 1, 1);
  lua_pushnil(L);
  return 3;
}

static int l_tostring(lua_State *L) {
  lua_pushfstring(L, "device '%s'", check(L)->d->lab->name);
  return 1;
}

void device_push(lua_State *L, device *d) {
  dev_ud *u = lua_newuserdatauv(L, sizeof *u, 1);
  u->d = d;
  u->cursor = 0;
  api_push_json(L, d->lab->spec, 0); /* t.device: the declaration as the lab wrote it (lab.h) */
  lua_pushstring(L, d->lab->name);
  lua_setfield(L, -2, "name");
  const cJSON *argv = device_power_argv(d->pw);
  if (argv) { /* the command as started, placeholders filled in */
    api_push_json(L, argv, 0);
    lua_setfield(L, -2, "cmd");
  }
  api_uart_push(L, d->con, d->lab->name, d->case_start, d->lab->death);
  lua_setfield(L, -2, "uart");
  lua_setiuservalue(L, -2, 1);
  if (luaL_newmetatable(L, MT)) {
    static const luaL_Reg methods[] = {{"power_on", l_power_on},
                                       {"power_off", l_power_off},
                                       {"power_cycle", l_power_cycle},
                                       {"power_state", l_power_state},
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
    lua_pushcfunction(L, l_pairs);
    lua_setfield(L, -2, "__pairs");
  }
  lua_setmetatable(L, -2);
}
