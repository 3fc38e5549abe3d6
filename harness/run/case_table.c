/* case_table: the table t given to a scenario's run(t) (case_table.h), and the
 * lab's login decider wired onto its t.net.mqtt (case_auth_wire). */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "case_table.h"
#include "run_internal.h"

void case_fw_base(const char *host, int tls, int port, char *out, size_t outlen) {
  int v6 = strchr(host, ':') != NULL;
  char p[16] = "";
  if (port != (tls ? 443 : 80)) snprintf(p, sizeof p, ":%d", port);
  snprintf(out, outlen, "%s://%s%s%s%s", tls ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "", p);
}

static void set_str(lua_State *L, const char *key, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, key);
}

void case_table_push(lua_State *L, const case_parts *p) {
  lua_newtable(L);
  device_push(L, p->dev);
  lua_setfield(L, -2, "device");
  api_fw_push(L, p->fw, p->fw_base);
  lua_setfield(L, -2, "fw");
  netdev_push(L, p->net);
  lua_setfield(L, -2, "net");
  serialdev_push(L, p->serial);
  lua_setfield(L, -2, "serial");
  set_str(L, "id", p->id);
  set_str(L, "name", p->name);
  lua_pushinteger(L, (lua_Integer)p->seed);
  lua_setfield(L, -2, "seed");
  lua_pushnumber(L, p->timeout_multiplier);
  lua_setfield(L, -2, "timeout_multiplier");
  if (p->params_at && p->param) lua_rawgeti(L, p->params_at, p->param); /* scenario.h */
  else lua_newtable(L);
  lua_setfield(L, -2, "params");
  /* the otahil module's functions, as t.expect, t.fail, t.sleep, ... */
  lua_getglobal(L, "otahil");
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_settable(L, -5);
  }
  lua_pop(L, 1);
}

/* The lab's auth = "platform": cloud.wire_login(t, dialect) (scenarios/lib/cloud.lua) makes
 * the dialect library's login(t, l) decide every CONNECT the MQTT proxy holds (C holds and
 * answers, the library judges: docs/tls.md); a library with no login policy is an ERROR of
 * the case, naming both. Called with t at the top of the stack, which it leaves there. */
int case_auth_wire(kase *k, char *err, size_t errlen) {
  const lab_device *ld = device_lab(k->dev);
  if (!ld->auth_platform) return 0;
  lua_State *L = rt_lua(k->R);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "cloud");
  if (rt_pcall(k->R, 1, 1, err, errlen) != 0) return -1;
  lua_getfield(L, -1, "wire_login");
  lua_remove(L, -2); /* t, cloud.wire_login */
  lua_pushvalue(L, -2);
  lua_pushstring(L, ld->dialect);
  return rt_pcall(k->R, 2, 0, err, errlen);
}
