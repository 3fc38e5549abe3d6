/* api_net_login: the login hold of t.net.mqtt (lab auth = "platform", api_net.h): the
 * "mqtt.login" events, the decisions, and on_login's task that hands each held CONNECT to
 * the handler of the moment (the dialect library's login policy, or the scenario's). */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_net_int.h"
#include "net_login_lua.h" /* net_login.lua, compiled in */

/* An MQTT string field (it may hold any byte; a NUL ends it in the event). */
static void add_bytes(cJSON *ev, const char *key, const char *p, size_t n) {
  if (!p) return;
  char *s = malloc(n + 1);
  if (!s) abort();
  memcpy(s, p, n);
  s[n] = 0;
  cJSON_AddStringToObject(ev, key, s);
  free(s);
}

/* "mqtt.login": a CONNECT held for a decision (lab auth = "platform"). */
void api_net__login_event(nstream *s, const struct netem_event *e) {
  cJSON *ev = evlog_add(s->owner->log, "mqtt.login");
  cJSON_AddStringToObject(ev, "stream", s->name);
  cJSON_AddNumberToObject(ev, "conn", (double)e->conn_id);
  cJSON_AddStringToObject(ev, "client_id", e->client_id ? e->client_id : "");
  add_bytes(ev, "username", e->username, e->username_len);
  add_bytes(ev, "password", e->password, e->password_len);
  cJSON_AddNumberToObject(ev, "protocol", e->protocol_level);
  evlog_commit(s->owner->log);
}

static nstream *check_login(lua_State *L, const char *what) {
  nstream *s = api_net__check(L);
  if (!s->login_hold) luaL_error(L, "%s: %s needs the device's lab key auth = \"platform\"", s->name, what);
  return s;
}

static int l_login_hold(lua_State *L) {
  lua_pushboolean(L, api_net__check(L)->login_hold);
  return 1;
}

static int l_next_login(lua_State *L) {
  stream_ud *u = luaL_checkudata(L, 1, MT_STREAM);
  check_login(L, "next_login");
  API_KEYS(L, 2, "next_login", "timeout");
  double timeout = api_optnumfield(L, 2, "timeout", 10);
  api_match *m = api_match_new();
  api_match_str(m, "kind", "mqtt.login");
  api_match_str(m, "stream", u->s->name);
  return api_wait_event(L, m, &u->login_cursor, timeout);
}

static int decide(lua_State *L, nstream *s, enum netem_login verdict, const char *why) {
  lua_Integer conn = luaL_checkinteger(L, 2);
  if (netem_proxy_login(s->p, (uint64_t)conn, verdict, why) != 0) {
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: connection %d holds no CONNECT (closed, decided, or refused by the timeout)",
                    s->name, (int)conn);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int l_login_accept(lua_State *L) {
  nstream *s = check_login(L, "login_accept");
  return decide(L, s, NETEM_LOGIN_ACCEPT, luaL_optstring(L, 3, NULL));
}

static int l_login_refuse(lua_State *L) {
  nstream *s = check_login(L, "login_refuse");
  static const char *const codes[] = {"bad_credentials", "not_authorized", NULL};
  int c = luaL_checkoption(L, 3, "bad_credentials", codes);
  return decide(L, s, c ? NETEM_LOGIN_NOT_AUTHORIZED : NETEM_LOGIN_BAD_CREDENTIALS, luaL_optstring(L, 4, NULL));
}

void api_net__login_methods(lua_State *L, int methods) {
  static const luaL_Reg fns[] = {{"login_hold", l_login_hold},
                                 {"next_login", l_next_login},
                                 {"login_accept", l_login_accept},
                                 {"login_refuse", l_login_refuse},
                                 {NULL, NULL}};
  lua_pushvalue(L, methods);
  luaL_setfuncs(L, fns, 0);
  /* on_login (net_login.lua): a task per stream hands each held CONNECT to the handler */
  if (luaL_loadbuffer(L, net_login_lua, sizeof net_login_lua - 1, "=net") != LUA_OK) lua_error(L);
  lua_insert(L, -2);
  lua_call(L, 1, 0);
}
