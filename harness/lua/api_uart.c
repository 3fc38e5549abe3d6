/* The uart object (t.device.uart): see api_uart.h. Every wait follows the
 * rt_wait_yield pattern; uart:expect runs its wait through lua_callk so that its
 * continuation can FAIL in the scenario's coroutine when the wait timed out. */
#include "api_uart.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "uart_match.h"

#define MT "otahil.uart"
#define MAX_GROUPS 10
#define TAIL_LINES 4

typedef struct uart_ud {
  console *con;
  const char *device;
  uint64_t start;  /* the case's first byte */
  uint64_t cursor; /* this reader's position */
} uart_ud;

static uart_ud *check_ud(lua_State *L) { return luaL_checkudata(L, 1, MT); }

static double now_s(void) { return (double)uv_hrtime() / 1e9; }

static void push_span(lua_State *L, console *con, uart_span s) {
  if (!s.set) {
    lua_pushnil(L);
    return;
  }
  size_t len;
  const char *p = uart_capture_peek(console_capture(con), s.start, &len, NULL);
  lua_pushlstring(L, p, (size_t)(s.end - s.start) <= len ? (size_t)(s.end - s.start) : len);
}

/* ---- uart:expect --------------------------------------------------------- */

typedef struct expect_wait {
  uart_match *m;
  uart_ud *u;
  char *pattern;
} expect_wait;

static void expect_free(void *p) {
  expect_wait *e = p;
  uart_match_free(e->m);
  free(e->pattern);
  free(e);
}

static int expect_check(rt_wait *w, lua_State *co, int timed_out) {
  expect_wait *e = rt_wait_data(w);
  uart_span sp[MAX_GROUPS];
  size_t n = uart_match_groups(e->m);
  if (n > MAX_GROUPS) n = MAX_GROUPS;
  (void)timed_out; /* a last look at the timeout: bytes may have just come */
  if (!uart_match_next(e->m, console_capture(e->u->con), &e->u->cursor, sp, n)) return 0;
  for (size_t i = 0; i < n; i++) push_span(co, e->u->con, sp[i]);
  evlog *log = rt_log(rt_wait_rt(w));
  cJSON *ev = evlog_add(log, "uart.match");
  cJSON_AddStringToObject(ev, "device", e->u->device);
  cJSON_AddStringToObject(ev, "pattern", e->pattern);
  cJSON_AddStringToObject(ev, "match", lua_tostring(co, -(int)n));
  cJSON_AddNumberToObject(ev, "offset", (double)(sp[0].start - e->u->start));
  evlog_commit(log);
  return (int)n;
}

/* The wait itself (called through lua_callk): (ud, pattern, timeout, plain). */
static int expect_wait_fn(lua_State *L) {
  uart_ud *u = check_ud(L);
  size_t len;
  const char *pat = luaL_checklstring(L, 2, &len);
  double timeout = lua_tonumber(L, 3);
  int plain = lua_toboolean(L, 4);
  expect_wait *e = calloc(1, sizeof *e);
  if (!e) abort();
  char err[300];
  if (uart_match_new(pat, len, plain, &e->m, err, sizeof err) != 0) {
    free(e);
    luaL_where(L, 2);
    return luaL_error(L, "%suart:expect: %s", lua_tostring(L, -1), err);
  }
  e->u = u;
  e->pattern = strdup(pat);
  return rt_wait_yield(L, expect_check, e, expect_free, timeout);
}

/* After the wait: the match and its groups, or FAIL on a timeout. */
static int expect_done(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  int base = (int)ctx; /* the caller's arguments stay below the results */
  if (!lua_isnil(L, base + 1)) return lua_gettop(L) - base;
  uart_ud *u = luaL_checkudata(L, 1, MT);
  const char *pat = lua_tostring(L, 2);
  double timeout = api_optnumfield(L, 3, "timeout", 10);
  if (lua_istable(L, 3) && lua_getfield(L, 3, "optional") != LUA_TNIL && lua_toboolean(L, -1)) {
    lua_pushnil(L); /* optional: a timeout is an answer, for counting and polling */
    return 1;
  }
  char tail[700];
  uart_capture_tail(console_capture(u->con), u->start, TAIL_LINES, tail, sizeof tail);
  api_env *env = api_env_get(L);
  const char *log = env->log_path[0] ? env->log_path : "(no log)";
  /* a console that is away explains a silent one (a refused telnet option, ser2net gone) */
  const char *down = console_down_why(u->con);
  return rt_fail(L, 1, "uart:expect(\"%s\") on device '%s' timed out after %g s; last lines: %s%s%s%s%s%s%s; log: %s",
                 pat, u->device, rt_scale(rt_from_lua(L), timeout), tail[0] ? "\"" : "(none)", tail,
                 tail[0] ? "\"" : "", down ? "; console " : "", down ? console_describe(u->con) : "",
                 down ? " is down: " : "", down ? down : "", log);
}

static int l_expect(lua_State *L) {
  check_ud(L);
  luaL_checkstring(L, 2);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  API_KEYS(L, 3, "uart:expect", "timeout", "plain", "optional");
  double timeout = api_optnumfield(L, 3, "timeout", 10);
  if (timeout < 0) return luaL_error(L, "uart:expect: timeout must be >= 0");
  int plain = 0;
  if (lua_istable(L, 3)) {
    lua_getfield(L, 3, "plain");
    plain = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  lua_settop(L, 3);
  int base = lua_gettop(L);
  lua_pushcfunction(L, expect_wait_fn);
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_pushnumber(L, timeout);
  lua_pushboolean(L, plain);
  lua_callk(L, 4, LUA_MULTRET, (lua_KContext)base, expect_done);
  return expect_done(L, LUA_OK, (lua_KContext)base);
}

/* ---- uart:send ----------------------------------------------------------- */

typedef struct send_wait {
  console *con;
  rt *R;
  uv_timer_t *timer;
  char *data;
  size_t len, pos;
  int done;
  char err[256];
} send_wait;

static void free_handle(uv_handle_t *h) { free(h); }

static void send_free(void *p) {
  send_wait *s = p;
  uv_timer_stop(s->timer);
  uv_close((uv_handle_t *)s->timer, free_handle);
  free(s->data);
  free(s);
}

static void send_tick(uv_timer_t *t) {
  send_wait *s = t->data;
  if (s->done) return;
  if (console_send(s->con, s->data + s->pos, 1, s->err, sizeof s->err) != 0 || ++s->pos == s->len) {
    s->done = 1;
    uv_timer_stop(t);
    rt_poke(s->R);
  }
}

static int send_check(rt_wait *w, lua_State *co, int timed_out) {
  send_wait *s = rt_wait_data(w);
  (void)timed_out;
  if (!s->done) return 0;
  if (s->err[0]) {
    lua_pushnil(co);
    lua_pushstring(co, s->err);
    return 2;
  }
  lua_pushboolean(co, 1);
  return 1;
}

static void send_event(lua_State *L, uart_ud *u, const char *text, size_t len, double delay) {
  evlog *log = rt_log(rt_from_lua(L));
  cJSON *ev = evlog_add(log, "uart.send");
  cJSON_AddStringToObject(ev, "device", u->device);
  lua_pushlstring(L, text, len); /* cJSON wants a C string: an embedded NUL ends the text logged */
  cJSON_AddStringToObject(ev, "text", lua_tostring(L, -1));
  lua_pop(L, 1);
  if (delay > 0) cJSON_AddNumberToObject(ev, "char_delay", delay);
  evlog_commit(log);
}

static int l_send(lua_State *L) {
  uart_ud *u = check_ud(L);
  size_t len;
  const char *text = luaL_checklstring(L, 2, &len);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  API_KEYS(L, 3, "uart:send", "char_delay");
  double delay = api_optnumfield(L, 3, "char_delay", 0);
  if (delay < 0 || delay > 10) return luaL_error(L, "uart:send: char_delay must be from 0 to 10 seconds");
  send_event(L, u, text, len, delay);
  char err[256];
  if (delay <= 0 || len <= 1) {
    if (len > 0 && console_send(u->con, text, len, err, sizeof err) != 0) {
      lua_pushnil(L);
      lua_pushstring(L, err);
      return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
  }
  rt *R = rt_from_lua(L);
  send_wait *s = calloc(1, sizeof *s);
  if (!s) abort();
  s->con = u->con;
  s->R = R;
  s->data = malloc(len);
  if (!s->data) abort();
  memcpy(s->data, text, len);
  s->len = len;
  s->timer = malloc(sizeof *s->timer);
  if (!s->timer) abort();
  uv_timer_init(rt_loop(R), s->timer);
  s->timer->data = s;
  uint64_t ms = (uint64_t)(delay * 1000.0 + 0.5);
  uv_timer_start(s->timer, send_tick, 0, ms ? ms : 1);
  /* bounded: the bytes' time plus a margin for a busy loop */
  return rt_wait_yield(L, send_check, s, send_free, (double)len * delay + 10.0);
}

/* ---- uart:settle --------------------------------------------------------- */

typedef struct settle_wait {
  console *con;
  rt *R;
  uv_timer_t *timer;
  double since, quiet;
} settle_wait;

static void settle_free(void *p) {
  settle_wait *s = p;
  uv_timer_stop(s->timer);
  uv_close((uv_handle_t *)s->timer, free_handle);
  free(s);
}

static void settle_tick(uv_timer_t *t) {
  settle_wait *s = t->data;
  rt_poke(s->R);
}

static int settle_check(rt_wait *w, lua_State *co, int timed_out) {
  settle_wait *s = rt_wait_data(w);
  (void)timed_out;
  double last = console_last_rx(s->con);
  if (last < s->since) last = s->since;
  double left = last + s->quiet - now_s();
  if (left <= 0) {
    lua_pushboolean(co, 1);
    return 1;
  }
  /* no event may come while the console is quiet: look again when it would be */
  uv_timer_start(s->timer, settle_tick, (uint64_t)(left * 1000.0) + 1, 0);
  return 0;
}

static int l_settle(lua_State *L) {
  uart_ud *u = check_ud(L);
  double quiet_ms = luaL_checknumber(L, 2);
  if (quiet_ms < 0) return luaL_error(L, "uart:settle: quiet_ms must be >= 0");
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  API_KEYS(L, 3, "uart:settle", "timeout");
  double timeout = api_optnumfield(L, 3, "timeout", 10);
  rt *R = rt_from_lua(L);
  settle_wait *s = calloc(1, sizeof *s);
  if (!s) abort();
  s->con = u->con;
  s->R = R;
  s->since = now_s();
  s->quiet = quiet_ms / 1000.0;
  s->timer = malloc(sizeof *s->timer);
  if (!s->timer) abort();
  uv_timer_init(rt_loop(R), s->timer);
  s->timer->data = s;
  return rt_wait_yield(L, settle_check, s, settle_free, timeout);
}

/* ---- readers ------------------------------------------------------------- */

static uart_ud *push_ud(lua_State *L, console *con, const char *device, uint64_t start, uint64_t cursor);

static int l_reader(lua_State *L) {
  uart_ud *u = check_ud(L);
  const char *from = "here";
  if (lua_istable(L, 2)) {
    API_KEYS(L, 2, "uart:reader", "from");
    lua_getfield(L, 2, "from");
    if (!lua_isnil(L, -1)) from = luaL_checkstring(L, -1);
  } else if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
  }
  uint64_t cur;
  if (strcmp(from, "here") == 0) cur = u->cursor;
  else if (strcmp(from, "start") == 0) cur = u->start;
  else if (strcmp(from, "now") == 0) cur = console_bytes(u->con);
  else return luaL_error(L, "uart:reader: from = '%s' is unknown (here, start, now)", from);
  push_ud(L, u->con, u->device, u->start, cur);
  return 1;
}

static int l_skip(lua_State *L) {
  uart_ud *u = check_ud(L);
  u->cursor = console_bytes(u->con);
  return 0;
}

static int l_cursor(lua_State *L) {
  uart_ud *u = check_ud(L);
  lua_pushinteger(L, (lua_Integer)(u->cursor - u->start));
  return 1;
}

static int l_tostring(lua_State *L) {
  uart_ud *u = check_ud(L);
  lua_pushfstring(L, "uart of device '%s' (%s)", u->device, console_describe(u->con));
  return 1;
}

static uart_ud *push_ud(lua_State *L, console *con, const char *device, uint64_t start, uint64_t cursor) {
  uart_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
  u->con = con;
  u->device = device;
  u->start = start;
  u->cursor = cursor;
  if (luaL_newmetatable(L, MT)) {
    static const luaL_Reg methods[] = {{"expect", l_expect}, {"send", l_send},     {"settle", l_settle},
                                       {"reader", l_reader}, {"skip", l_skip},     {"cursor", l_cursor},
                                       {NULL, NULL}};
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_setmetatable(L, -2);
  return u;
}

/* ---- waking waits on new bytes ------------------------------------------- */

typedef struct poker {
  console *con;
  console_listener *l;
} poker;

static void poke_cb(void *arg) { rt_poke(arg); }

static void poker_close(void *arg) {
  poker *p = arg;
  console_unlisten(p->con, p->l);
  free(p);
}

/* ---- the death watch ----------------------------------------------------- */

typedef struct death_wait {
  console *con;
  const char *device;
  uint64_t start;
  size_t n;
  uart_match **m;
  char **names;
} death_wait;

static void death_free(void *p) {
  death_wait *d = p;
  for (size_t i = 0; i < d->n; i++) {
    uart_match_free(d->m[i]);
    free(d->names[i]);
  }
  free(d->m);
  free(d->names);
  free(d);
}

static int death_check(rt_wait *w, lua_State *co, int timed_out) {
  death_wait *d = rt_wait_data(w);
  (void)timed_out;
  uart_capture *cap = console_capture(d->con);
  size_t best = 0;
  uart_span hit = {0, 0, 0};
  for (size_t i = 0; i < d->n; i++) {
    uint64_t cur = d->start; /* the matcher resumes where it stopped looking */
    uart_span sp[1];
    if (uart_match_next(d->m[i], cap, &cur, sp, 1) && (!hit.set || sp[0].start < hit.start)) {
      hit = sp[0];
      best = i;
    }
  }
  if (!hit.set) return 0;
  /* the whole line the pattern stands in, as far as it has come */
  size_t len;
  uint64_t at;
  const char *p = uart_capture_peek(cap, 0, &len, &at);
  size_t s = (size_t)(hit.start - at), e = (size_t)(hit.end - at);
  while (s > 0 && p[s - 1] != '\n') s--;
  while (e < len && p[e] != '\n') e++;
  while (e > s && p[e - 1] == '\r') e--;
  lua_pushstring(co, d->names[best]);
  lua_pushlstring(co, p + s, e - s);
  evlog *log = rt_log(rt_wait_rt(w));
  cJSON *ev = evlog_add(log, "console.death");
  cJSON_AddStringToObject(ev, "device", d->device);
  cJSON_AddStringToObject(ev, "pattern", d->names[best]);
  cJSON_AddStringToObject(ev, "line", lua_tostring(co, -1));
  cJSON_AddNumberToObject(ev, "offset", (double)(hit.start - d->start));
  evlog_commit(log);
  return 2;
}

static int death_wait_fn(lua_State *L) {
  death_wait *d = lua_touserdata(L, 1);
  /* it waits as long as the scenario runs; the scenario's end cancels it. The
   * scenario state owns d (freed when it closes): the task may never start. */
  return rt_wait_yield(L, death_check, d, NULL, HUGE_VAL);
}

static int death_done(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  const char *device = (const char *)ctx;
  const char *pattern = lua_tostring(L, -2), *line = lua_tostring(L, -1);
  if (!pattern || !line) return 0; /* cancelled */
  return rt_fail(L, 0, "device '%s': console death pattern '%s': %s", device, pattern, line);
}

/* The background task's body: upvalue 1 is the death_wait (light userdata). */
static int death_task(lua_State *L) {
  death_wait *d = lua_touserdata(L, lua_upvalueindex(1));
  lua_pushcfunction(L, death_wait_fn);
  lua_pushlightuserdata(L, d);
  lua_callk(L, 1, 2, (lua_KContext)d->device, death_done);
  return death_done(L, LUA_OK, (lua_KContext)d->device);
}

static void start_death_watch(lua_State *L, console *con, const char *device, uint64_t start,
                              const cJSON *death) {
  death_wait *d = calloc(1, sizeof *d);
  if (!d) abort();
  d->con = con;
  d->device = device;
  d->start = start;
  size_t n = (size_t)cJSON_GetArraySize(death);
  d->m = calloc(n, sizeof *d->m);
  d->names = calloc(n, sizeof *d->names);
  if (!d->m || !d->names) abort();
  for (const cJSON *x = death->child; x; x = x->next) {
    const cJSON *re = cJSON_GetObjectItemCaseSensitive(x, "re");
    const char *pat = cJSON_IsString(x) ? x->valuestring : re->valuestring;
    char err[300];
    /* the lab checked every pattern: a failure here is out of memory */
    if (uart_match_new(pat, strlen(pat), cJSON_IsString(x), &d->m[d->n], err, sizeof err) != 0) continue;
    d->names[d->n++] = strdup(pat);
  }
  rt_on_close(rt_from_lua(L), death_free, d);
  lua_pushlightuserdata(L, d);
  lua_pushcclosure(L, death_task, 1);
  rt_spawn(L, -1);
  lua_pop(L, 1);
}

void api_uart_push(lua_State *L, console *con, const char *device, uint64_t case_start,
                   const cJSON *death) {
  rt *R = rt_from_lua(L);
  poker *p = calloc(1, sizeof *p);
  if (!p) abort();
  p->con = con;
  p->l = console_listen(con, poke_cb, R);
  rt_on_close(R, poker_close, p);
  if (death) start_death_watch(L, con, device, case_start, death);
  push_ud(L, con, device, case_start, case_start);
}
