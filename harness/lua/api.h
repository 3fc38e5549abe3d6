/* api: the Lua modules of the scenario API and the helpers they share.
 * One C file per Lua module (api_json.c, api_digest.c, api_core.c, api_mqtt.c,
 * api_fw.c, api_net.c, api_serial.c, api_uart.c, api_power.c; t.device itself is
 * harness/device/device.c). Each api_open_* follows luaL_requiref's signature. */
#ifndef OTAHIL_API_H
#define OTAHIL_API_H

#include <cjson/cJSON.h>
#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "rt.h"

/* What the runner gives every scenario state (kept in the registry). */
typedef struct api_env {
  const char *mqtt_host; /* the broker the cloud's clients use */
  int mqtt_port;
  int mqtt_tls;          /* over TLS (--broker mqtts://), verified against mqtt_ca */
  const char *mqtt_ca;   /* NULL: the system's CAs */
  void *runner;          /* opaque to the modules; used by api_device/api_fw */
  char log_path[1024];   /* the case's log (logs/<id>.log), named in FAIL messages; "" if none */
  /* The files a scenario may read (t.fw:serve/read, digest.file): the lab's
   * firmware images and what lies under work_dir, each a resolved path.
   * NULL files and work_dir: no limit (unit tests). */
  const char *const *files; /* NULL-terminated */
  const char *work_dir;
} api_env;
void api_env_set(lua_State *L, api_env *env);
api_env *api_env_get(lua_State *L);

/* 0 if the scenario may read `path` (see api_env.files), else -1 with err naming
 * the path and what may be read. The sandbox has no io: these are its only reads. */
int api_file_allowed(lua_State *L, const char *path, char *err, size_t errlen);

int api_open_json(lua_State *L);
int api_open_mqtt(lua_State *L);
int api_open_digest(lua_State *L);
int api_open_core(lua_State *L); /* module `otahil` */

/* JSON <-> Lua (api_json.c). api_to_json raises on values JSON cannot hold. */
void api_push_json(lua_State *L, const cJSON *j, int depth);
cJSON *api_to_json(lua_State *L, int idx, int depth);

/* File digests (api_digest.c). */
typedef struct api_file_digest {
  uint64_t size;
  char md5[33];
  char sha256[65];
  uint32_t crc32;
} api_file_digest;
int api_digest_file(const char *path, api_file_digest *out, char *err, size_t errlen);

/* Event matchers (api_core.c): a list of field tests on an event.
 * Plain keys compare for equality (strings, numbers, booleans); `topic` is an
 * MQTT filter with + and #; `re` is a POSIX extended regex and `contains` a
 * plain substring, both tested on the event's "line" (console) or "payload". */
typedef struct api_match api_match;
api_match *api_match_new(void);
void api_match_str(api_match *m, const char *key, const char *value);
void api_match_num(api_match *m, const char *key, double value);
/* Adds the tests of the Lua table at idx; raises a Lua error on a bad regex or type. */
void api_match_lua(api_match *m, lua_State *L, int idx);
/* Builds a matcher from the Lua table at idx; raises (without leaking) on a bad one. */
api_match *api_check_match(lua_State *L, int idx);
int api_match_test(const api_match *m, const cJSON *ev);
void api_match_free(void *m);

/* Waits for the first event at or after *cursor that matches `m` (which the wait
 * then owns). Resumes with (event table, new cursor) and advances *cursor past
 * it, or with (nil, "timeout"). `cursor` must outlive the wait (e.g. live in a
 * userdata that is an argument of the waiting call). */
int api_wait_event(lua_State *L, api_match *m, size_t *cursor, double timeout_s);

/* Amends the event table a wait pushed (on top of co's stack) before the scenario
 * sees it: e.g. puts back a payload the log holds only cut or with NULs replaced.
 * `index` is the event's index in the log. */
typedef void (*api_amend_fn)(void *arg, lua_State *co, size_t index);

/* api_wait_event, then amend(arg, ...) on the event found; `arg` must outlive the wait. */
int api_wait_event_amend(lua_State *L, api_match *m, size_t *cursor, double timeout_s, api_amend_fn amend,
                         void *arg);

/* Lua: check_keys(opts, what, k1, k2, ... | {k1, k2, ...}) raises "<author's line>: what:
 * unknown key 'x' (k1, k2, ...)" when the table opts has a key not listed (nil opts:
 * nothing to check). otahil.check_keys, and the t.net wrappers. */
int api_l_check_keys(lua_State *L);

/* Checks the option table at idx (if it is a table) against the keys it takes:
 * API_KEYS(L, 3, "fw:fault", "status", "times") raises at the author's line. */
#define API_KEYS(L, idx, what, ...) rt_check_keys((L), (idx), (what), (const char *const[]){__VA_ARGS__, NULL})

/* Reads an optional number field of the table at idx (seconds etc.). */
double api_optnumfield(lua_State *L, int idx, const char *key, double def);

#endif
