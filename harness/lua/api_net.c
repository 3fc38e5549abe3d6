#include "api_net.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_net_int.h"
#include "tls_pki.h"
#include "net_faults_lua.h" /* net_faults.lua, compiled in */

static const char *dir_name(enum netem_dir d) {
  return d == NETEM_DIR_UP ? "up" : d == NETEM_DIR_DOWN ? "down" : NULL;
}

static void on_event(const struct netem_event *e, void *user) {
  nstream *s = user;
  evlog *log = s->owner->log;
  if (!log) return;
  const char *kind = NULL;
  switch (e->kind) {
  case NETEM_EV_CONN_OPEN: kind = "net.open"; break;
  case NETEM_EV_CONN_CLOSE: kind = "net.close"; break;
  case NETEM_EV_HTTP_REQUEST: kind = "http.request"; break;
  case NETEM_EV_HTTP_RESPONSE: kind = "http.response"; break;
  case NETEM_EV_BODY_PROGRESS: kind = "http.progress"; break;
  case NETEM_EV_FAULT:
    /* l_fault logs "fault.add", l_clear "fault.clear": "fault" is a fault acting */
    if (e->action && (!strcmp(e->action, "added") || !strcmp(e->action, "removed"))) return;
    kind = "fault";
    break;
  case NETEM_EV_FRAMING_ERROR: kind = "net.error"; break;
  case NETEM_EV_MQTT_PUBLISH: return; /* the cloud's clients log MQTT already */
  case NETEM_EV_MQTT_LOGIN: api_net__login_event(s, e); return;
  case NETEM_EV_MQTT_LOGIN_DONE: kind = "mqtt.login.result"; break;
  case NETEM_EV_MQTT_SUBSCRIBE: kind = "net.subscribe"; break;
  }
  cJSON *ev = evlog_add(log, kind);
  cJSON_AddStringToObject(ev, "stream", s->name);
  if (e->conn_id) cJSON_AddNumberToObject(ev, "conn", (double)e->conn_id);
  if (dir_name(e->dir)) cJSON_AddStringToObject(ev, "dir", dir_name(e->dir));
  switch (e->kind) {
  case NETEM_EV_CONN_OPEN:
    if (e->peer) cJSON_AddStringToObject(ev, "peer", e->peer);
    break;
  case NETEM_EV_CONN_CLOSE:
    cJSON_AddNumberToObject(ev, "bytes_down", (double)e->offset);
    cJSON_AddNumberToObject(ev, "bytes_up", (double)e->body_offset);
    break;
  case NETEM_EV_HTTP_REQUEST:
    if (e->method) cJSON_AddStringToObject(ev, "method", e->method);
    if (e->path) cJSON_AddStringToObject(ev, "path", e->path);
    if (e->range) cJSON_AddStringToObject(ev, "range", e->range);
    break;
  case NETEM_EV_HTTP_RESPONSE:
    cJSON_AddNumberToObject(ev, "status", e->status);
    cJSON_AddNumberToObject(ev, "content_length", (double)e->content_length);
    break;
  case NETEM_EV_BODY_PROGRESS:
    cJSON_AddNumberToObject(ev, "bytes", (double)e->body_offset);
    cJSON_AddNumberToObject(ev, "offset", 0);
    break;
  case NETEM_EV_MQTT_LOGIN_DONE:
    cJSON_AddStringToObject(ev, "action", e->action ? e->action : "?");
    if (e->status) cJSON_AddNumberToObject(ev, "code", e->status);
    cJSON_AddNumberToObject(ev, "protocol", e->protocol_level);
    cJSON_AddStringToObject(ev, "reason", e->detail ? e->detail : "");
    evlog_commit(log);
    return;
  case NETEM_EV_MQTT_SUBSCRIBE:
    cJSON_AddStringToObject(ev, "topics", e->topic ? e->topic : "");
    break;
  case NETEM_EV_FAULT:
    if (e->fault) cJSON_AddStringToObject(ev, "fault", e->fault);
    if (e->fault_id) cJSON_AddNumberToObject(ev, "id", e->fault_id);
    if (e->action) cJSON_AddStringToObject(ev, "action", e->action);
    cJSON_AddNumberToObject(ev, "offset", (double)e->offset);
    if (e->body_offset >= 0) cJSON_AddNumberToObject(ev, "body_offset", (double)e->body_offset);
    if (e->topic) cJSON_AddStringToObject(ev, "topic", e->topic);
    if (e->old_byte >= 0) cJSON_AddNumberToObject(ev, "old_byte", e->old_byte);
    if (e->new_byte >= 0) cJSON_AddNumberToObject(ev, "new_byte", e->new_byte);
    break;
  default:
    break;
  }
  if (e->detail) cJSON_AddStringToObject(ev, "detail", e->detail);
  evlog_commit(log);
}

static int open_stream(uv_loop_t *loop, netdev *n, nstream *s, const char *devname, int http,
                       const netdev_listen *at, int listen_port, const char *host, int port,
                       uint64_t seed, char *err, size_t errlen) {
  const char *listen_host = at->host;
  s->owner = n;
  s->http = http;
  snprintf(s->name, sizeof s->name, "%s/%s", devname, http ? "http" : "mqtt");
  struct netem_proxy_opts o = {0};
  o.name = s->name;
  o.listen_host = listen_host;
  o.listen_port = listen_port;
  o.upstream_host = host;
  o.upstream_port = port;
  o.view = http ? NETEM_VIEW_HTTP : NETEM_VIEW_MQTT;
  o.seed = seed;
  o.on_event = on_event;
  o.user = s;
  o.progress_step = http ? 32768 : 0;
  o.tls_cert = at->tls_cert;
  o.tls_key = at->tls_key;
  s->tls = at->tls_cert != NULL;
  o.upstream_tls = !http && at->broker_tls;
  o.upstream_ca = at->broker_ca;
  o.login_hold = s->login_hold = !http && at->login_hold;
  o.login_timeout_ms = (uint64_t)((at->login_timeout_s > 0 ? at->login_timeout_s : 5) * 1000.0);
  int rc = netem_proxy_open(loop, &o, &s->p, err, errlen);
  return rc == 0 ? 0 : -1;
}

int netdev_open(uv_loop_t *loop, const char *name, evlog *log, const netdev_listen *at,
                const char *mqtt_host, int mqtt_port, int http_port, uint64_t seed, netdev **out,
                char *err, size_t errlen) {
  static const netdev_listen loopback = {"127.0.0.1", 0, 0, NULL, NULL, NULL, 0, 0, 0, NULL};
  if (!at) at = &loopback;
  netdev *n = calloc(1, sizeof *n);
  if (!n) abort();
  n->log = log;
  snprintf(n->pki, sizeof n->pki, "%s", at->tls_pki ? at->tls_pki : "");
  if (open_stream(loop, n, &n->mqtt, name, 0, at, at->mqtt_port, mqtt_host, mqtt_port, seed,
                  err, errlen) != 0) {
    free(n);
    return -1;
  }
  if (open_stream(loop, n, &n->http, name, 1, at, at->http_port, "127.0.0.1", http_port,
                  seed ^ 0x9E3779B97F4A7C15ULL, err, errlen) != 0) {
    n->log = NULL;
    n->closing_left = 1;
    netem_proxy_close(n->mqtt.p, (void (*)(void *))free, n);
    return -1;
  }
  *out = n;
  return 0;
}

int netdev_mqtt_port(const netdev *n) { return netem_proxy_port(n->mqtt.p); }
int netdev_http_port(const netdev *n) { return netem_proxy_port(n->http.p); }

static void closed(void *user) {
  netdev *n = user;
  if (--n->closing_left == 0) free(n);
}

void netdev_close(netdev *n) {
  if (!n) return;
  n->log = NULL;
  n->closing_left = 2;
  netem_proxy_close(n->mqtt.p, closed, n);
  netem_proxy_close(n->http.p, closed, n);
}

/* ---- Lua ----------------------------------------------------------------- */

nstream *api_net__check(lua_State *L) {
  stream_ud *u = luaL_checkudata(L, 1, MT_STREAM);
  if (!u->s->owner->log) luaL_error(L, "net: the case has ended");
  return u->s;
}

/* A fault's handle: its id and where the log was when it was added. */
typedef struct fault_ud {
  nstream *s;
  uint32_t id;
  size_t from, cursor; /* cursor: wait()'s, past the last act it returned */
} fault_ud;

/* h:fired() -> whether the fault has acted, and how many times, as the log says. */
static int l_fault_fired(lua_State *L) {
  fault_ud *h = luaL_checkudata(L, 1, MT_FAULT);
  evlog *log = h->s->owner->log;
  lua_Integer n = 0;
  for (size_t i = h->from; log && i < evlog_count(log); i++) {
    const cJSON *ev = evlog_get(log, i);
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(ev, "kind");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(ev, "stream");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(ev, "id");
    if (cJSON_IsString(k) && !strcmp(k->valuestring, "fault") && cJSON_IsString(st) &&
        !strcmp(st->valuestring, h->s->name) && cJSON_IsNumber(id) && id->valuedouble == h->id)
      n++;
  }
  lua_pushboolean(L, n > 0);
  lua_pushinteger(L, n);
  return 2;
}

/* h:wait([timeout = 10]) -> the fault's next "fault" event and a cursor, or nil, "timeout". */
static int l_fault_wait(lua_State *L) {
  fault_ud *h = luaL_checkudata(L, 1, MT_FAULT);
  if (!h->s->owner->log) return luaL_error(L, "net: the case has ended");
  double timeout = luaL_optnumber(L, 2, 10);
  api_match *m = api_match_new();
  api_match_str(m, "kind", "fault");
  api_match_str(m, "stream", h->s->name);
  api_match_num(m, "id", h->id);
  return api_wait_event(L, m, &h->cursor, timeout);
}

static int l_fault_index(lua_State *L) {
  fault_ud *h = luaL_checkudata(L, 1, MT_FAULT);
  const char *k = luaL_checkstring(L, 2);
  if (!strcmp(k, "id")) lua_pushinteger(L, h->id);
  else if (!strcmp(k, "fired")) lua_pushcfunction(L, l_fault_fired);
  else if (!strcmp(k, "wait")) lua_pushcfunction(L, l_fault_wait);
  else lua_pushnil(L);
  return 1;
}

static int l_fault_tostring(lua_State *L) {
  fault_ud *h = luaL_checkudata(L, 1, MT_FAULT);
  lua_pushfstring(L, "fault %d on '%s'", (int)h->id, h->s->name);
  return 1;
}

static void push_fault(lua_State *L, nstream *s, uint32_t id, size_t from) {
  fault_ud *h = lua_newuserdatauv(L, sizeof *h, 0);
  h->s = s;
  h->id = id;
  h->from = h->cursor = from;
  if (luaL_newmetatable(L, MT_FAULT)) {
    lua_pushcfunction(L, l_fault_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_fault_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_setmetatable(L, -2);
}

static int l_fault(lua_State *L) {
  nstream *s = api_net__check(L);
  const char *spec = luaL_checkstring(L, 2);
  char err[512];
  uint32_t id = 0;
  if (netem_fault_add_spec(s->p, spec, &id, err, sizeof err) != 0) {
    rt_where_author(L); /* the scenario's line, not inside the readable wrappers */
    lua_pushfstring(L, "%s%s: fault '%s': %s", lua_tostring(L, -1), s->name, spec, err);
    return lua_error(L);
  }
  size_t from = evlog_count(s->owner->log);
  cJSON *ev = evlog_add(s->owner->log, "fault.add");
  cJSON_AddStringToObject(ev, "stream", s->name);
  cJSON_AddStringToObject(ev, "spec", spec);
  cJSON_AddNumberToObject(ev, "id", id);
  evlog_commit(s->owner->log);
  push_fault(L, s, id, from);
  return 1;
}

/* s:reset(): every open connection is reset now (a "fault" event each, fault "reset"). */
static int l_reset(lua_State *L) {
  nstream *s = api_net__check(L);
  lua_pushinteger(L, (lua_Integer)netem_proxy_reset(s->p));
  return 1;
}

static int l_clear(lua_State *L) {
  nstream *s = api_net__check(L);
  netem_fault_clear(s->p);
  cJSON *ev = evlog_add(s->owner->log, "fault.clear");
  cJSON_AddStringToObject(ev, "stream", s->name);
  evlog_commit(s->owner->log);
  return 0;
}

static int l_body_bytes(lua_State *L) {
  nstream *s = api_net__check(L);
  lua_pushinteger(L, (lua_Integer)netem_proxy_body_delivered(s->p));
  return 1;
}

static int l_port(lua_State *L) {
  lua_pushinteger(L, netem_proxy_port(api_net__check(L)->p));
  return 1;
}

typedef struct body_wait {
  nstream *s;
  uint64_t n;
  uint32_t watch; /* its "http.body_reached" watch */
} body_wait;

/* The wait is over (reached, timed out or the case ended: waits end before the proxies
   close): a watch still pending would log "http.body_reached" for nobody. */
static void body_wait_free(void *p) {
  body_wait *b = p;
  (void)netem_proxy_unwatch(b->s->p, b->watch); /* fails harmlessly once it fired */
  free(b);
}

static int body_check(rt_wait *w, lua_State *co, int timed_out) {
  body_wait *b = rt_wait_data(w);
  (void)timed_out;
  if (!b->s->owner->log || netem_proxy_body_delivered(b->s->p) < b->n) return 0;
  lua_pushboolean(co, 1);
  return 1;
}

static void body_reached(netem_proxy *p, uint64_t delivered, void *user) {
  nstream *s = user;
  (void)p;
  if (!s->owner->log) return;
  cJSON *ev = evlog_add(s->owner->log, "http.body_reached");
  cJSON_AddStringToObject(ev, "stream", s->name);
  cJSON_AddNumberToObject(ev, "bytes", (double)delivered);
  evlog_commit(s->owner->log);
}

static int l_wait_body_bytes(lua_State *L) {
  nstream *s = api_net__check(L);
  lua_Integer n = luaL_checkinteger(L, 2);
  API_KEYS(L, 3, "wait_body_bytes", "timeout");
  double timeout = api_optnumfield(L, 3, "timeout", 30);
  if (!s->http) return luaL_error(L, "%s: wait_body_bytes needs the HTTP stream", s->name);
  if (n < 0) return luaL_error(L, "wait_body_bytes: n must be >= 0");
  body_wait *b = malloc(sizeof *b);
  if (!b) abort();
  b->s = s;
  b->n = (uint64_t)n;
  b->watch = 0;
  netem_proxy_watch_body(s->p, b->n, body_reached, s, &b->watch);
  return rt_wait_yield(L, body_check, b, body_wait_free, timeout);
}

static int l_next_request(lua_State *L) {
  stream_ud *u = luaL_checkudata(L, 1, MT_STREAM);
  api_net__check(L);
  API_KEYS(L, 2, "next_request", "timeout");
  double timeout = api_optnumfield(L, 2, "timeout", 10);
  api_match *m = api_match_new();
  api_match_str(m, "kind", "http.request");
  api_match_str(m, "stream", u->s->name);
  return api_wait_event(L, m, &u->cursor, timeout);
}

static int l_tls_cert(lua_State *L) {
  nstream *s = api_net__check(L);
  static const char *const which[] = {"server", "expired", "wrong-name", "untrusted", NULL};
  static const enum tls_pki_leaf leaves[] = {TLS_PKI_SERVER, TLS_PKI_EXPIRED, TLS_PKI_WRONGNAME, TLS_PKI_UNTRUSTED};
  int i = luaL_checkoption(L, 2, NULL, which);
  if (!s->tls || !s->owner->pki[0])
    return luaL_error(L, "%s: tls_cert needs the device's lab key tls = true or { dir = ... }", s->name);
  char cert[4200], key[4200], err[600];
  tls_pki_path(s->owner->pki, tls_pki_leaf_cert(leaves[i]), cert, sizeof cert);
  tls_pki_path(s->owner->pki, tls_pki_leaf_key(leaves[i]), key, sizeof key);
  if (netem_proxy_tls_identity(s->p, cert, key, err, sizeof err) != 0) return luaL_error(L, "%s: %s", s->name, err);
  return 0;
}

static int l_tls_handshake(lua_State *L) {
  nstream *s = api_net__check(L);
  static const char *const modes[] = {"ok", "stall", "cut", "reset", NULL};
  int m = luaL_checkoption(L, 2, NULL, modes);
  if (!s->tls) return luaL_error(L, "%s: tls_handshake needs the device's lab key tls", s->name);
  netem_proxy_tls_handshake(s->p, (enum netem_tls_handshake)m); /* the orders match */
  return 0;
}

static int l_tostring(lua_State *L) {
  stream_ud *u = luaL_checkudata(L, 1, MT_STREAM);
  lua_pushfstring(L, "net stream '%s'", u->s->name);
  return 1;
}

static int l_is_http(lua_State *L) {
  stream_ud *u = luaL_checkudata(L, 1, MT_STREAM);
  lua_pushboolean(L, u->s->http);
  return 1;
}

static void push_stream(lua_State *L, nstream *s) {
  stream_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->s = s;
  u->cursor = u->login_cursor = 0;
  if (luaL_newmetatable(L, MT_STREAM)) {
    static const luaL_Reg methods[] = {{"fault", l_fault},
                                       {"clear", l_clear},
                                       {"reset", l_reset},
                                       {"body_bytes", l_body_bytes},
                                       {"wait_body_bytes", l_wait_body_bytes},
                                       {"next_request", l_next_request},
                                       {"port", l_port},
                                       {"is_http", l_is_http},
                                       {"tls_cert", l_tls_cert},
                                       {"tls_handshake", l_tls_handshake},
                                       {NULL, NULL}};
    luaL_newlib(L, methods);
    /* the readable fault methods (net_faults.lua) build SPEC strings; l_fault parses and checks them */
    if (luaL_loadbuffer(L, net_faults_lua, sizeof net_faults_lua - 1, "=net") != LUA_OK) lua_error(L);
    lua_pushvalue(L, -2);
    lua_pushcfunction(L, api_l_check_keys);
    lua_call(L, 2, 0);
    api_net__login_methods(L, lua_gettop(L));
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_setmetatable(L, -2);
}

static int l_net_clear(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  for (int i = 0; i < 2; i++) {
    lua_getfield(L, 1, i ? "http" : "mqtt");
    lua_getfield(L, -1, "clear");
    lua_insert(L, -2);
    lua_call(L, 1, 0);
  }
  return 0;
}

void netdev_push(lua_State *L, netdev *n) {
  lua_createtable(L, 0, 3);
  push_stream(L, &n->mqtt);
  lua_setfield(L, -2, "mqtt");
  push_stream(L, &n->http);
  lua_setfield(L, -2, "http");
  lua_pushcfunction(L, l_net_clear);
  lua_setfield(L, -2, "clear");
}
