/* t.fw: the firmware server as a scenario sees it (one object per case).
 *   local img = t.fw:serve(path [, {signed_only = false}])
 *       -> {name=, path=, url=, size=, md5=, sha256=, crc32=}
 *   t.fw:url(img [, {expires_in = 3600}])  -> a signed URL (expires_in < 0: already expired;
 *       NaN, +-inf and beyond +-10 years raise at the scenario's line)
 *   t.fw:fault(img, {status = 500 | ignore_range = true | truncate_after = N | delay = s, times = n})
 *       (status 100..599, truncate_after an integer >= -1, delay 0..3600 s, times an
 *       integer >= 0; anything else raises at the scenario's line)
 *   t.fw:next_request{ name = img.name, timeout = 10 } -> http event | nil, "timeout"
 *   t.fw:read(img [, offset [, len]]) -> the image's bytes (a dialect that serves
 *       firmware itself, e.g. Aliyun's MQTT blocks); at most 16 MiB per call
 * Images are forgotten at the end of the case (fw_images_free). Every request is an
 * "http" event of the case whose image it asked for. */
#include <errno.h>
#include <lauxlib.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_fw.h"

#define MT "otahil.fw"

struct fw_router {
  fwserver *srv;
  fw_images *live; /* the cases' image sets, newest first */
  unsigned sets;   /* image names start with "i<set>-": two cases' never collide */
};

struct fw_images {
  fw_router *r;
  evlog *log;
  char prefix[32];
  char **names;
  size_t n;
  fw_images *next, *prev;
};

typedef struct fw_ud {
  fw_images *imgs;
  fwserver *srv;
  evlog *log;
  char prefix[32];
  char base[128];   /* http://host:port the device reaches the server at */
  unsigned counter;
  size_t cursor;
} fw_ud;

static fw_ud *check(lua_State *L) { return luaL_checkudata(L, 1, MT); }

static const char *img_name(lua_State *L, int idx) {
  if (lua_isstring(L, idx)) return lua_tostring(L, idx);
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_getfield(L, idx, "name");
  const char *n = lua_tostring(L, -1);
  lua_pop(L, 1);
  if (!n) luaL_error(L, "fw: expected an image (the table fw:serve returned)");
  return n;
}

static int l_serve(lua_State *L) {
  fw_ud *u = check(L);
  const char *path = luaL_checkstring(L, 2);
  API_KEYS(L, 3, "fw:serve", "signed_only");
  unsigned flags = 0;
  if (lua_istable(L, 3)) {
    lua_getfield(L, 3, "signed_only");
    if (lua_toboolean(L, -1)) flags |= FWSERVER_SIGNED_ONLY;
    lua_pop(L, 1);
  }
  api_file_digest d;
  char err[512];
  if (api_file_allowed(L, path, err, sizeof err) != 0 ||
      api_digest_file(path, &d, err, sizeof err) != 0) {
    return luaL_error(L, "fw:serve: %s", err);
  }
  char tmp[4096], name[160];
  snprintf(tmp, sizeof tmp, "%s", path);
  const char *base = basename(tmp);
  snprintf(name, sizeof name, "%s-%u-%.100s", u->prefix, ++u->counter, base);
  for (char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '.' || *p == '-' || *p == '_'))
      *p = '_';
  if (fwserver_add(u->srv, name, path, flags, err, sizeof err) != 0) {
    return luaL_error(L, "fw:serve: %s", err);
  }
  fw_images *f = u->imgs;
  char **grown = realloc(f->names, (f->n + 1) * sizeof *grown);
  if (!grown) abort();
  f->names = grown;
  f->names[f->n++] = strdup(name);
  cJSON *ev = evlog_add(u->log, "fw.serve");
  cJSON_AddStringToObject(ev, "name", name);
  cJSON_AddStringToObject(ev, "path", path);
  cJSON_AddNumberToObject(ev, "size", (double)d.size);
  cJSON_AddStringToObject(ev, "md5", d.md5);
  evlog_commit(u->log);
  lua_createtable(L, 0, 8);
  lua_pushstring(L, name);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, path);
  lua_setfield(L, -2, "path");
  lua_pushfstring(L, "%s/fw/%s", u->base, name);
  lua_setfield(L, -2, "url");
  lua_pushinteger(L, (lua_Integer)d.size);
  lua_setfield(L, -2, "size");
  lua_pushstring(L, d.md5);
  lua_setfield(L, -2, "md5");
  lua_pushstring(L, d.sha256);
  lua_setfield(L, -2, "sha256");
  lua_pushinteger(L, d.crc32);
  lua_setfield(L, -2, "crc32");
  return 1;
}

/* fw:url's expires_in: negative is on purpose (an already expired URL, for a
 * 403 test), but NaN, an infinity or an absurd magnitude would become an
 * undefined int64_t conversion or a URL that never or always expired. */
#define FW_EXPIRES_MAX_S (10.0 * 366 * 86400) /* ten years, either way */

static int l_url(lua_State *L) {
  fw_ud *u = check(L);
  const char *name = img_name(L, 2);
  API_KEYS(L, 3, "fw:url", "expires_in");
  double expires_in = api_optnumfield(L, 3, "expires_in", 3600);
  if (!isfinite(expires_in) || fabs(expires_in) > FW_EXPIRES_MAX_S)
    return luaL_error(L, "fw:url: expires_in must be a number of seconds within +-10 years (got %f)",
                      (lua_Number)expires_in);
  char path[512];
  int64_t exp = (int64_t)time(NULL) + (int64_t)expires_in;
  if (fwserver_sign(u->srv, name, exp, path, sizeof path) < 0)
    return luaL_error(L, "fw:url: cannot sign '%s'", name);
  lua_pushfstring(L, "%s%s", u->base, path);
  return 1;
}

/* A number of fw:fault's option table (argument 3), checked before it is converted:
 * a double outside an integer type's range is undefined behaviour in C, and NaN
 * passes no comparison, so -1 or 0/0 would otherwise become a huge delay or count.
 * luaL_error locates the message at the caller's line, the scenario's. */
#define FW_DELAY_MAX_S 3600.0
static double fault_num(lua_State *L, const char *key, double def, double lo, double hi,
                        int integer, const char *want) {
  double v = api_optnumfield(L, 3, key, def);
  if (!isfinite(v) || v < lo || v > hi || (integer && v != floor(v)))
    luaL_error(L, "fw:fault: %s must be %s (got %f)", key, want, (lua_Number)v);
  return v;
}

static int l_fault(lua_State *L) {
  fw_ud *u = check(L);
  const char *name = img_name(L, 2);
  API_KEYS(L, 3, "fw:fault", "status", "ignore_range", "truncate_after", "delay", "times");
  if (lua_isnoneornil(L, 3)) {
    fwserver_set_fault(u->srv, name, NULL);
    return 0;
  }
  luaL_checktype(L, 3, LUA_TTABLE);
  fwserver_fault f = {0};
  /* 2^53: the largest byte count a double holds exactly */
  f.truncate_after = (int64_t)fault_num(L, "truncate_after", -1, -1, 9007199254740992.0, 1,
                                        "an integer >= -1");
  f.delay_ms = (uint64_t)(fault_num(L, "delay", 0, 0, FW_DELAY_MAX_S, 0,
                                    "a number of seconds in 0..3600") * 1000);
  f.times = (unsigned)fault_num(L, "times", 0, 0, (double)UINT_MAX, 1,
                                "an integer >= 0 (at most 4294967295)");
  lua_getfield(L, 3, "status");
  if (!lua_isnil(L, -1)) f.status = (int)fault_num(L, "status", 0, 100, 599, 1, "an integer in 100..599");
  lua_pop(L, 1);
  lua_getfield(L, 3, "ignore_range");
  f.ignore_range = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (fwserver_set_fault(u->srv, name, &f) != 0)
    return luaL_error(L, "fw:fault: '%s' is not served or the fault is invalid", name);
  cJSON *ev = evlog_add(u->log, "fault.add");
  cJSON_AddStringToObject(ev, "stream", "fwserver");
  cJSON_AddStringToObject(ev, "image", name);
  if (f.status) cJSON_AddNumberToObject(ev, "status", f.status);
  if (f.ignore_range) cJSON_AddTrueToObject(ev, "ignore_range");
  if (f.truncate_after >= 0) cJSON_AddNumberToObject(ev, "truncate_after", (double)f.truncate_after);
  if (f.delay_ms) cJSON_AddNumberToObject(ev, "delay_ms", (double)f.delay_ms);
  evlog_commit(u->log);
  return 0;
}

static int l_read(lua_State *L) {
  check(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer off = luaL_optinteger(L, 3, 0);
  lua_Integer len = luaL_optinteger(L, 4, 16 << 20);
  lua_getfield(L, 2, "path");
  const char *path = lua_tostring(L, -1);
  if (!path) return luaL_error(L, "fw:read: expected an image (the table fw:serve returned)");
  if (off < 0 || len < 0 || len > (16 << 20)) return luaL_error(L, "fw:read: offset or length out of range");
  char why[512];
  if (api_file_allowed(L, path, why, sizeof why) != 0) return luaL_error(L, "fw:read: %s", why);
  FILE *f = fopen(path, "rb");
  if (!f) return luaL_error(L, "fw:read: %s: %s", path, strerror(errno));
  /* never allocate more than the file holds */
  off_t total = fseeko(f, 0, SEEK_END) == 0 ? ftello(f) : 0;
  if (off >= (lua_Integer)total) len = 0;
  else if (len > (lua_Integer)total - off) len = (lua_Integer)total - off;
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, (size_t)len);
  size_t got = 0;
  if (fseeko(f, (off_t)off, SEEK_SET) == 0) got = fread(p, 1, (size_t)len, f);
  fclose(f);
  luaL_pushresultsize(&b, got);
  return 1;
}

static int l_next_request(lua_State *L) {
  fw_ud *u = check(L);
  API_KEYS(L, 2, "fw:next_request", "name", "timeout");
  double timeout = api_optnumfield(L, 2, "timeout", 10);
  api_match *m = api_match_new();
  api_match_str(m, "kind", "http");
  api_match_str(m, "stream", "fwserver");
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "name");
    if (lua_isstring(L, -1)) api_match_str(m, "name", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return api_wait_event(L, m, &u->cursor, timeout);
}

static void fw_event(evlog *log, const fwserver_event *e) {
  cJSON *ev = evlog_add(log, "http");
  cJSON_AddStringToObject(ev, "stream", "fwserver");
  cJSON_AddStringToObject(ev, "method", e->method);
  cJSON_AddStringToObject(ev, "path", e->path);
  if (e->name) cJSON_AddStringToObject(ev, "name", e->name);
  if (e->range) cJSON_AddStringToObject(ev, "range", e->range);
  cJSON_AddNumberToObject(ev, "status", e->status);
  cJSON_AddNumberToObject(ev, "offset", (double)e->offset);
  cJSON_AddNumberToObject(ev, "length", (double)e->length);
  cJSON_AddNumberToObject(ev, "sent", (double)e->sent);
  cJSON_AddBoolToObject(ev, "complete", e->complete);
  cJSON_AddStringToObject(ev, "reason", e->reason);
  evlog_commit(log);
}

/* fwserver_on_event: to the case whose image it is (by name), or nowhere. */
static void route(void *arg, const fwserver_event *e) {
  fw_router *r = arg;
  const char *n = e->name ? e->name : (strncmp(e->path, "/fw/", 4) == 0 ? e->path + 4 : NULL);
  for (fw_images *f = n ? r->live : NULL; f; f = f->next)
    for (size_t i = 0; i < f->n; i++)
      if (strcmp(f->names[i], n) == 0) {
        fw_event(f->log, e);
        return;
      }
}

fw_router *fw_router_new(fwserver *srv) {
  fw_router *r = calloc(1, sizeof *r);
  if (!r) abort();
  r->srv = srv;
  fwserver_on_event(srv, route, r);
  return r;
}

void fw_router_free(fw_router *r) { free(r); }

fw_images *fw_images_new(fw_router *r, evlog *log) {
  fw_images *f = calloc(1, sizeof *f);
  if (!f) abort();
  f->r = r;
  f->log = log;
  snprintf(f->prefix, sizeof f->prefix, "i%u", ++r->sets);
  f->next = r->live;
  if (r->live) r->live->prev = f;
  r->live = f;
  return f;
}

void fw_images_free(fw_images *f) {
  if (!f) return;
  for (size_t i = 0; i < f->n; i++) {
    fwserver_remove(f->r->srv, f->names[i]);
    free(f->names[i]);
  }
  free(f->names);
  if (f->prev) f->prev->next = f->next;
  else f->r->live = f->next;
  if (f->next) f->next->prev = f->prev;
  free(f);
}

void api_fw_push(lua_State *L, fw_images *f, const char *base) {
  fw_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
  memset(u, 0, sizeof *u);
  u->imgs = f;
  u->srv = f->r->srv;
  u->log = f->log;
  snprintf(u->prefix, sizeof u->prefix, "%s", f->prefix);
  snprintf(u->base, sizeof u->base, "%s", base);
  if (luaL_newmetatable(L, MT)) {
    static const luaL_Reg methods[] = {{"serve", l_serve}, {"url", l_url}, {"fault", l_fault},
                                       {"next_request", l_next_request}, {"read", l_read},
                                       {NULL, NULL}};
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_setmetatable(L, -2);
}
