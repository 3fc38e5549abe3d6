/* Lua module `mqtt`: the cloud's MQTT clients (libmosquitto on the loop).
 *   local c = mqtt.connect{id = "cloud-x" [, host =, port =, timeout = 5]}  -- waits for CONNACK
 *   c:subscribe(filter [, {qos = 1, timeout = 5}])   -- waits for SUBACK; true | nil, why
 *   c:publish(topic, payload [, {qos = 1, retain = false}])
 *   c:next(filter [, {timeout = 10}]) -> msg {topic, payload, qos, retain, t} | nil, "timeout"
 *       the next message received after the previous one returned (a cursor per client);
 *       its payload is the bytes as they came, even where the log holds them cut or with
 *       NULs shown as '.' (see exact_keep)
 *   c:close()
 * Every message in and out is an event ("mqtt.in", "mqtt.out") of the scenario. */
#include <lauxlib.h>
#include <mosquitto.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "mqttc.h"
#include "mqtt_connect_lua.h" /* mqtt_connect.lua, compiled in */

#define MT "otahil.mqtt"
#define LOG_PAYLOAD_MAX (64 * 1024)
/* A payload the log cannot hold as it came (a NUL byte, or longer than LOG_PAYLOAD_MAX)
 * is also kept whole, for c:next, until the client's cursor passes it; at most this
 * many bytes per client (then the oldest go, and c:next gives the log's version). */
#define EXACT_KEEP_MAX (64u * 1024 * 1024)

typedef struct exact {
  struct exact *next;
  size_t index; /* of its "mqtt.in" event in the log */
  size_t len;
  char bytes[];
} exact;

typedef struct mq {
  mqttc *c;
  evlog *log;
  size_t cursor;
  exact *head, *tail; /* in log order */
  size_t kept;        /* bytes in the list */
  char id[128];
} mq;

static void exact_drop_head(mq *q) {
  exact *e = q->head;
  q->head = e->next;
  if (!q->head) q->tail = NULL;
  q->kept -= e->len;
  free(e);
}

static void exact_keep(mq *q, size_t index, const void *p, size_t len) {
  if (len > EXACT_KEEP_MAX) return;
  exact *e = malloc(sizeof *e + len);
  if (!e) abort();
  e->next = NULL;
  e->index = index;
  e->len = len;
  memcpy(e->bytes, p, len);
  if (q->tail) q->tail->next = e;
  else q->head = e;
  q->tail = e;
  q->kept += len;
  while (q->kept > EXACT_KEEP_MAX) exact_drop_head(q);
}

/* api_amend_fn of c:next: the whole payload of the event at `index`, if kept. The cursor
   moves past it, so it and every older one are dropped. */
static void exact_amend(void *arg, lua_State *co, size_t index) {
  mq *q = arg;
  while (q->head && q->head->index < index) exact_drop_head(q);
  if (!q->head || q->head->index != index) return;
  lua_pushlstring(co, q->head->bytes, q->head->len);
  lua_setfield(co, -2, "payload");
  lua_pushnil(co);
  lua_setfield(co, -2, "truncated");
  exact_drop_head(q);
}

static void log_payload(cJSON *ev, const void *p, int len) {
  int n = len > LOG_PAYLOAD_MAX ? LOG_PAYLOAD_MAX : len;
  char *s = malloc((size_t)n + 1);
  if (!s) abort();
  /* NUL bytes would cut a JSON string short: show them as '.' */
  for (int i = 0; i < n; i++) s[i] = ((const char *)p)[i] ? ((const char *)p)[i] : '.';
  s[n] = 0;
  cJSON_AddStringToObject(ev, "payload", s);
  free(s);
  cJSON_AddNumberToObject(ev, "len", len);
  if (n < len) cJSON_AddTrueToObject(ev, "truncated");
}

static void on_connect(void *arg, int rc) {
  mq *q = arg;
  cJSON *ev = evlog_add(q->log, "mqtt.connack");
  cJSON_AddStringToObject(ev, "client", q->id);
  cJSON_AddNumberToObject(ev, "rc", rc);
  evlog_commit(q->log);
}

static void on_disconnect(void *arg, int rc) {
  mq *q = arg;
  cJSON *ev = evlog_add(q->log, "mqtt.disconnect");
  cJSON_AddStringToObject(ev, "client", q->id);
  cJSON_AddNumberToObject(ev, "rc", rc);
  evlog_commit(q->log);
}

static void on_subscribe(void *arg, int mid) {
  mq *q = arg;
  cJSON *ev = evlog_add(q->log, "mqtt.suback");
  cJSON_AddStringToObject(ev, "client", q->id);
  cJSON_AddNumberToObject(ev, "mid", mid);
  evlog_commit(q->log);
}

static void on_message(void *arg, const char *topic, const void *payload, int len, int qos,
                       int retain) {
  mq *q = arg;
  cJSON *ev = evlog_add(q->log, "mqtt.in");
  cJSON_AddStringToObject(ev, "client", q->id);
  cJSON_AddStringToObject(ev, "topic", topic);
  log_payload(ev, payload, len);
  cJSON_AddNumberToObject(ev, "qos", qos);
  if (retain) cJSON_AddTrueToObject(ev, "retain");
  if (evlog_kept(q->log, ev) && (len > LOG_PAYLOAD_MAX || (len > 0 && memchr(payload, 0, (size_t)len))))
    exact_keep(q, evlog_count(q->log) - 1, payload, (size_t)len);
  evlog_commit(q->log);
}

static mq *check(lua_State *L) {
  mq *q = luaL_checkudata(L, 1, MT);
  if (!q->c) luaL_error(L, "mqtt client '%s' is closed", q->id);
  return q;
}

static int connack_check(rt_wait *w, lua_State *co, int timed_out) {
  mq *q = rt_wait_data(w);
  evlog *log = q->log;
  for (size_t i = q->cursor; i < evlog_count(log); i++) {
    const cJSON *ev = evlog_get(log, i);
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(ev, "kind");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(ev, "client");
    /* only the CONNACK: a "mqtt.disconnect" of the same id may be an older client the broker
       dropped for this one (a client id is taken over), not this client's failure */
    if (strcmp(k->valuestring, "mqtt.connack") || !cJSON_IsString(c) || strcmp(c->valuestring, q->id)) continue;
    q->cursor = i + 1;
    int rc = cJSON_GetObjectItemCaseSensitive(ev, "rc")->valueint;
    if (rc != 0) {
      lua_pushnil(co);
      lua_pushfstring(co, "broker refused client '%s': %s", q->id, mosquitto_connack_string(rc));
      return 2;
    }
    lua_pushboolean(co, 1);
    return 1;
  }
  if (!timed_out) return 0;
  /* say which step did not answer: the TCP connect, or the broker's CONNACK */
  const char *why = q->c ? mqttc_error(q->c) : NULL;
  lua_pushnil(co);
  if (why) lua_pushfstring(co, "timeout: %s", why);
  else lua_pushfstring(co, "timeout: client '%s': connected, but no CONNACK from the broker", q->id);
  return 2;
}

/* mqtt.open{...}: starts connecting and returns the client at once. */
static int l_open(lua_State *L) {
  rt *R = rt_from_lua(L);
  api_env *env = api_env_get(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  API_KEYS(L, 1, "mqtt.connect", "id", "host", "port", "timeout");
  lua_getfield(L, 1, "id");
  const char *id = luaL_checkstring(L, -1);
  lua_getfield(L, 1, "host");
  const char *host = luaL_optstring(L, -1, env->mqtt_host);
  int port = (int)api_optnumfield(L, 1, "port", env->mqtt_port);
  if (!host || port <= 0) return luaL_error(L, "mqtt.connect: no broker is configured");
  mq *q = lua_newuserdatauv(L, sizeof *q, 0);
  memset(q, 0, sizeof *q);
  snprintf(q->id, sizeof q->id, "%s", id);
  q->log = rt_log(R);
  q->cursor = evlog_count(q->log);
  luaL_setmetatable(L, MT);
  mqttc_cbs cbs = {on_connect, on_disconnect, on_subscribe, NULL, on_message};
  char err[256];
  /* the run's broker over mqtts: TLS, verified (a scenario's own host and port: plain) */
  mqttc_tls tls = {env->mqtt_ca};
  int use_tls = env->mqtt_tls && env->mqtt_host && !strcmp(host, env->mqtt_host) && port == env->mqtt_port;
  if (mqttc_open_tls(rt_loop(R), id, host, port, use_tls ? &tls : NULL, &cbs, q, &q->c, err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  return 1;
}

/* c:wait_connected([timeout]) -> true | nil, why */
static int l_wait_connected(lua_State *L) {
  mq *q = check(L);
  double timeout = luaL_optnumber(L, 2, 5);
  return rt_wait_yield(L, connack_check, q, NULL, timeout);
}

static int suback_wait(lua_State *L, mq *q, int mid, double timeout) {
  api_match *m = api_match_new();
  api_match_str(m, "kind", "mqtt.suback");
  api_match_str(m, "client", q->id);
  api_match_num(m, "mid", mid);
  /* the SUBACK can only come after the subscribe event logged just before */
  size_t *cur = lua_newuserdatauv(L, sizeof *cur, 0);
  *cur = evlog_count(q->log) - 1;
  return api_wait_event(L, m, cur, timeout);
}

static int l_subscribe(lua_State *L) {
  mq *q = check(L);
  const char *filter = luaL_checkstring(L, 2);
  API_KEYS(L, 3, "subscribe", "qos", "timeout");
  int qos = (int)api_optnumfield(L, 3, "qos", 1);
  double timeout = api_optnumfield(L, 3, "timeout", 5);
  int mid = 0;
  int rc = mqttc_subscribe(q->c, filter, qos, &mid);
  if (rc != MOSQ_ERR_SUCCESS) {
    return luaL_error(L, "subscribe '%s': %s", filter, mosquitto_strerror(rc));
  }
  cJSON *ev = evlog_add(q->log, "mqtt.subscribe");
  cJSON_AddStringToObject(ev, "client", q->id);
  cJSON_AddStringToObject(ev, "filter", filter);
  cJSON_AddNumberToObject(ev, "mid", mid);
  evlog_commit(q->log);
  return suback_wait(L, q, mid, timeout);
}

static int l_publish(lua_State *L) {
  mq *q = check(L);
  const char *topic = luaL_checkstring(L, 2);
  size_t len;
  const char *payload = luaL_checklstring(L, 3, &len);
  API_KEYS(L, 4, "publish", "qos", "retain");
  int qos = (int)api_optnumfield(L, 4, "qos", 1);
  int retain = 0;
  if (lua_istable(L, 4)) {
    lua_getfield(L, 4, "retain");
    retain = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  if (len > 256u * 1024 * 1024) return luaL_error(L, "publish: payload too large");
  int mid = 0;
  int rc = mqttc_publish(q->c, topic, payload, (int)len, qos, retain, &mid);
  cJSON *ev = evlog_add(q->log, "mqtt.out");
  cJSON_AddStringToObject(ev, "client", q->id);
  cJSON_AddStringToObject(ev, "topic", topic);
  log_payload(ev, payload, (int)len);
  cJSON_AddNumberToObject(ev, "qos", qos);
  if (rc != MOSQ_ERR_SUCCESS) cJSON_AddStringToObject(ev, "error", mosquitto_strerror(rc));
  evlog_commit(q->log);
  if (rc != MOSQ_ERR_SUCCESS) {
    lua_pushnil(L);
    lua_pushfstring(L, "publish on '%s': %s", topic, mosquitto_strerror(rc));
    return 2;
  }
  lua_pushinteger(L, mid);
  return 1;
}

static int l_next(lua_State *L) {
  mq *q = check(L);
  const char *filter = luaL_optstring(L, 2, "#");
  API_KEYS(L, 3, "next", "timeout");
  double timeout = api_optnumfield(L, 3, "timeout", 10);
  api_match *m = api_match_new();
  api_match_str(m, "kind", "mqtt.in");
  api_match_str(m, "client", q->id);
  api_match_str(m, "topic", filter);
  return api_wait_event_amend(L, m, &q->cursor, timeout, exact_amend, q);
}

static int l_close(lua_State *L) {
  mq *q = luaL_checkudata(L, 1, MT);
  if (q->c) mqttc_close(q->c);
  q->c = NULL;
  while (q->head) exact_drop_head(q);
  return 0;
}

static int l_tostring(lua_State *L) {
  mq *q = luaL_checkudata(L, 1, MT);
  lua_pushfstring(L, "mqtt client '%s'", q->id);
  return 1;
}

int api_open_mqtt(lua_State *L) {
  static const luaL_Reg methods[] = {{"subscribe", l_subscribe}, {"publish", l_publish},
                                     {"wait_connected", l_wait_connected},
                                     {"next", l_next},           {"close", l_close},
                                     {NULL, NULL}};
  luaL_newmetatable(L, MT);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, l_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {{"open", l_open}, {NULL, NULL}};
  luaL_newlib(L, fns);
  if (luaL_loadbuffer(L, mqtt_connect_lua, sizeof mqtt_connect_lua - 1, "=mqtt") != LUA_OK) lua_error(L);
  lua_pushvalue(L, -2);
  lua_call(L, 1, 0);
  return 1;
}
