/* case_table: the table t given to a scenario's run(t) (docs/lua-api.md): the device,
 * its firmware images (t.fw), network (t.net) and serial line (t.serial), the
 * case's id, name and seed, and the otahil module's functions (t.expect, ...). */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "api_fw.h"
#include "run_internal.h"

void case_table_push(kase *k) {
  runner *rn = k->rn;
  lua_State *L = rt_lua(k->R);
  lua_newtable(L);
  device_push(L, k->dev);
  lua_setfield(L, -2, "device");
  char base[128];
  /* firmware URLs point at the HTTP proxy, as the device reaches it */
  const lab_device *ld = device_lab(k->dev);
  const char *host = ld->net.host;
  int v6 = strchr(host, ':') != NULL;
  /* on the default port the URL names none: vendor HTTP clients often parse no host:port */
  int tls = ld->tls.on;
  char port[16] = "";
  if (netdev_http_port(k->net) != (tls ? 443 : 80)) snprintf(port, sizeof port, ":%d", netdev_http_port(k->net));
  snprintf(base, sizeof base, "%s://%s%s%s%s", tls ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "", port);
  if (!k->imgs) k->imgs = fw_images_new(rn->fw_router, k->log); /* freed by case_finish */
  api_fw_push(L, k->imgs, base);
  lua_setfield(L, -2, "fw");
  netdev_push(L, k->net);
  lua_setfield(L, -2, "net");
  serialdev_push(L, k->serial);
  lua_setfield(L, -2, "serial");
  lua_pushstring(L, k->id);
  lua_setfield(L, -2, "id");
  lua_pushstring(L, k->sc.name);
  lua_setfield(L, -2, "name");
  lua_pushinteger(L, (lua_Integer)k->seed);
  lua_setfield(L, -2, "seed");
  lua_pushnumber(L, rn->o->timeout_multiplier);
  lua_setfield(L, -2, "timeout_multiplier");
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

/* The lab's auth = "platform": the dialect library's login(t, l) decides every CONNECT the
 * MQTT proxy holds (C holds and answers, the library judges: docs/tls.md). A library with
 * no login policy is an ERROR of the case, naming both. */
static const char auth_lua[] =
    "local t, dialect = ...\n"
    "local lib = require(dialect)\n"
    "if type(lib) ~= 'table' or type(lib.login) ~= 'function' then\n"
    "  error(('device \\'%s\\' has auth = \"platform\", and the dialect library \\'%s\\' has no '\n"
    "        .. 'login(t, l) policy'):format(t.device.name, dialect), 0)\n"
    "end\n"
    "t.net.mqtt:on_login(function(l) return lib.login(t, l) end)\n";

int case_auth_wire(kase *k, char *err, size_t errlen) {
  const lab_device *ld = device_lab(k->dev);
  if (!ld->auth_platform) return 0;
  lua_State *L = rt_lua(k->R);
  if (luaL_loadbuffer(L, auth_lua, sizeof auth_lua - 1, "=auth") != LUA_OK) {
    snprintf(err, errlen, "auth: %s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return -1;
  }
  lua_pushvalue(L, -2); /* t */
  lua_pushstring(L, ld->dialect);
  return rt_pcall(k->R, 2, 0, err, errlen);
}
