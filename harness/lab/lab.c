#include "lab.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <lauxlib.h>
#include <libgen.h>
#include <limits.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "fwimage.h"
#include "lab_console.h"
#include "lab_deploy.h"
#include "lab_network.h"
#include "lab_placeholders.h"
#include "lab_auth.h"
#include "lab_tls.h"
#include "lab_power.h"
#include "rt.h"

#define LAB_KEY "otahil.lab"
/* A lab file declares; it gets the limits of a scenario so that a mistake in
 * it (an endless loop, a huge table) is an error, never a hang or a swap storm. */
#define LAB_MEM_LIMIT (64u << 20)
#define LAB_INSTR_BUDGET 200000000ull
#define LAB_HOOK_EVERY 10000
#define LAB_SECONDS 10.0

typedef struct loader {
  lab *l;
  const char *image_dir;
  char dir[PATH_MAX]; /* the lab file's folder: relative paths start there */
  rt_mem mem;
  uint64_t instr;
  double t0;
  int runaway;
} loader;

static const char *const device_keys[] = {"dialect", "product", "device", "version", "kind",
                                          "cmd", "graceful", "images", "timing", "features",
                                          "env", "power", "console", "network", "deploy",
                                          "base_image", "modules", "strict", "secret", "tls", "auth", "lines",
                                          NULL};

static loader *get_loader(lua_State *L);

/* Past the budget or the time, every instruction raises (a pcall in the file
 * cannot swallow it), as the scenarios' runtime does. */
static void lab__hook(lua_State *L, lua_Debug *ar) {
  loader *ld = get_loader(L);
  ld->instr += LAB_HOOK_EVERY;
  if (!ld->runaway && (ld->instr > LAB_INSTR_BUDGET || rt_mono() - ld->t0 > LAB_SECONDS)) {
    ld->runaway = 1;
    lua_sethook(L, lab__hook, LUA_MASKCOUNT, 1);
  }
  if (!ld->runaway) return;
  int line = lua_getinfo(L, "l", ar) ? ar->currentline : 0;
  char msg[PATH_MAX + 200];
  snprintf(msg, sizeof msg, "\x01%s:%d: the lab file runs too long (over %llu instructions or %.0f s: an endless loop?)",
           ld->l->file, line, (unsigned long long)LAB_INSTR_BUDGET, LAB_SECONDS);
  lua_pushstring(L, msg);
  lua_error(L);
}

static loader *get_loader(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, LAB_KEY);
  loader *ld = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return ld;
}

static void list_of(const char *const *names, char *out, size_t len) {
  size_t n = 0;
  out[0] = 0;
  for (int i = 0; names[i] && n < len; i++)
    n += (size_t)snprintf(out + n, len - n, "%s%s", i ? ", " : "", names[i]);
}

static int in_list(const char *const *names, const char *s) {
  for (int i = 0; names[i]; i++)
    if (strcmp(names[i], s) == 0) return 1;
  return 0;
}

/* Raises "file:line: device 'name': message" for the device being declared. */
static int dev_error(lua_State *L, const char *name, int line, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  loader *ld = get_loader(L);
  return luaL_error(L, "\x01%s:%d: device '%s': %s", ld->l->file, line, name, msg);
}

static void absolute(loader *ld, const char *p, char *out, size_t len) {
  /* paths longer than PATH_MAX are cut and then simply not found */
  if (p[0] == '/') {
    size_t n = strlen(p);
    if (n >= len) n = len - 1;
    memcpy(out, p, n);
    out[n] = 0;
  } else {
    int n = snprintf(out, len, "%s/", ld->dir);
    if (n < 0 || (size_t)n >= len) n = 0;
    size_t m = strlen(p);
    if ((size_t)n + m >= len) m = len - 1 - (size_t)n;
    memcpy(out + n, p, m);
    out[n + m] = 0;
  }
}

static int file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* images = { good = {[version] = file}, fail_boot = {version=, file=}, fail_burn = {...} } */
static void check_images(lua_State *L, loader *ld, const char *name, int line, cJSON *img) {
  if (!cJSON_IsObject(img)) dev_error(L, name, line, "images must be a table");
  for (cJSON *k = img->child; k; k = k->next) {
    char path[PATH_MAX];
    if (strcmp(k->string, "good") == 0) {
      if (!cJSON_IsObject(k) || !k->child)
        dev_error(L, name, line, "images.good must map versions to files, e.g. [\"2.0.0\"] = \"fw/2.0.0.bin\"");
      for (cJSON *v = k->child; v; v = v->next) {
        if (!cJSON_IsString(v)) dev_error(L, name, line, "images.good[\"%s\"] must be a file name", v->string);
        absolute(ld, v->valuestring, path, sizeof path);
        if (!file_exists(path)) dev_error(L, name, line, "images.good[\"%s\"]: file '%s' does not exist", v->string, path);
        cJSON_SetValuestring(v, path);
      }
    } else if (strcmp(k->string, "fail_boot") == 0 || strcmp(k->string, "fail_burn") == 0) {
      cJSON *ver = cJSON_GetObjectItemCaseSensitive(k, "version");
      cJSON *file = cJSON_GetObjectItemCaseSensitive(k, "file");
      if (!cJSON_IsString(ver) || !cJSON_IsString(file))
        dev_error(L, name, line, "images.%s must be { version = \"...\", file = \"...\" }", k->string);
      absolute(ld, file->valuestring, path, sizeof path);
      if (!file_exists(path)) dev_error(L, name, line, "images.%s: file '%s' does not exist", k->string, path);
      cJSON_SetValuestring(file, path);
    } else {
      dev_error(L, name, line, "images.%s is unknown (good, fail_boot, fail_burn)", k->string);
    }
  }
}

/* A list of names (features, strict): strings only. */
static void check_names(lua_State *L, const char *name, int line, cJSON *list, const char *key) {
  if (!cJSON_IsArray(list)) dev_error(L, name, line, "%s must be a list of names, e.g. { \"a\", \"b\" }", key);
  for (cJSON *f = list->child; f; f = f->next)
    if (!cJSON_IsString(f) || !f->valuestring[0]) dev_error(L, name, line, "%s must hold only non-empty names", key);
}

/* modules = { MCU = "1.0.0" } (components besides the main firmware, with their
 * factory versions), lines = { burning = "..." } (the firmware's console lines
 * scenarios wait for, as Lua patterns), strict = { "progress-rate" } (rules the lab asks for beyond
 * the seeds' lenient reading: the dialect libraries name them), secret = "...". */
static void check_extras(lua_State *L, const char *name, int line, cJSON *spec) {
  cJSON *mods = cJSON_GetObjectItemCaseSensitive(spec, "modules");
  if (mods) {
    if (!cJSON_IsObject(mods) && !(cJSON_IsArray(mods) && !mods->child))
      dev_error(L, name, line, "modules must map module names to versions, e.g. { MCU = \"1.0.0\" }");
    for (cJSON *m = mods->child; m; m = m->next)
      if (!cJSON_IsString(m) || !m->valuestring[0])
        dev_error(L, name, line, "modules.%s must be a version string", m->string);
  }
  cJSON *lines = cJSON_GetObjectItemCaseSensitive(spec, "lines");
  if (lines) {
    if (!cJSON_IsObject(lines))
      dev_error(L, name, line, "lines must map names to Lua patterns of the console, e.g. { burning = \"burning\" }");
    for (cJSON *m = lines->child; m; m = m->next)
      if (!cJSON_IsString(m) || !m->valuestring[0])
        dev_error(L, name, line, "lines.%s must be a Lua pattern (a non-empty string)", m->string);
  }
  cJSON *strict = cJSON_GetObjectItemCaseSensitive(spec, "strict");
  if (strict) check_names(L, name, line, strict, "strict");
  cJSON *secret = cJSON_GetObjectItemCaseSensitive(spec, "secret");
  if (secret && (!cJSON_IsString(secret) || !secret->valuestring[0]))
    dev_error(L, name, line, "secret must be a non-empty string (the device secret the platform signs with)");
}

/* A name that cannot be a file name part, a topic level or a case id part. */
static int bad_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 128) return 1;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 32 || *p == 127 || *p == '/') return 1;
  return 0;
}

/* `s` for a one-line message: control bytes as \xNN, at most `len` bytes. */
static void printable(const char *s, size_t n, char *out, size_t len) {
  size_t k = 0;
  for (size_t i = 0; i < n && k + 5 < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 32 || c == 127) k += (size_t)snprintf(out + k, len - k, "\\x%02x", c);
    else out[k++] = (char)c;
  }
  out[k] = 0;
}

static void check_device(lua_State *L, loader *ld, const char *name, int line, cJSON *spec) {
  char keys[512];
  for (cJSON *k = spec->child; k; k = k->next) {
    if (!in_list(device_keys, k->string)) {
      list_of(device_keys, keys, sizeof keys);
      dev_error(L, name, line, "key '%s' is unknown (%s)", k->string, keys);
    }
  }
  static const char *const strings[] = {"dialect", "product", "device", "version", NULL};
  for (int i = 0; strings[i]; i++) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, strings[i]);
    if (!v) dev_error(L, name, line, "key '%s' is missing", strings[i]);
    if (!cJSON_IsString(v) || !*v->valuestring)
      dev_error(L, name, line, "key '%s' must be a non-empty string", strings[i]);
  }
  /* names go into topics, case ids and file names: no separators, no control
   * bytes, a sane length (the Lua string's length: a NUL inside it counts) */
  static const char *const named[] = {"product", "device", NULL};
  for (int i = 0; named[i]; i++) {
    const char *v = cJSON_GetObjectItemCaseSensitive(spec, named[i])->valuestring;
    char shown[200];
    printable(v, strlen(v), shown, sizeof shown);
    if (bad_name(v)) dev_error(L, name, line, "%s '%s' must be 1..128 printable bytes without '/'", named[i], shown);
  }
  /* the dialect is a name; which ones have a library is the catalogue's (catalogue.h) */
  /* kind, cmd and power (lab_power.c) */
  if (lab_power_check(spec, keys, sizeof keys) != 0) dev_error(L, name, line, "%s", keys);
  if (lab_console_check(spec, keys, sizeof keys) != 0) dev_error(L, name, line, "%s", keys);
  if (lab_network_check(spec, keys, sizeof keys) != 0) dev_error(L, name, line, "%s", keys);
  if (lab_tls_check(spec, ld->dir, ld->image_dir, name, keys, sizeof keys) != 0) dev_error(L, name, line, "%s", keys);
  if (lab_deploy_check(spec, keys, sizeof keys) != 0) dev_error(L, name, line, "%s", keys);
  cJSON *base = cJSON_GetObjectItemCaseSensitive(spec, "base_image"); /* deploy's {image} */
  if (base) {
    char path[PATH_MAX];
    absolute(ld, base->valuestring, path, sizeof path);
    if (!file_exists(path)) dev_error(L, name, line, "base_image: file '%s' does not exist", path);
    cJSON_SetValuestring(base, path);
  }
  cJSON *g = cJSON_GetObjectItemCaseSensitive(spec, "graceful");
  if (g && !cJSON_IsBool(g)) dev_error(L, name, line, "graceful must be true or false");
  cJSON *img = cJSON_GetObjectItemCaseSensitive(spec, "images");
  if (img) check_images(L, ld, name, line, img);
  else cJSON_AddObjectToObject(spec, "images");
  cJSON *timing = cJSON_GetObjectItemCaseSensitive(spec, "timing");
  if (timing) {
    if (!cJSON_IsObject(timing)) dev_error(L, name, line, "timing must be a table of numbers");
    if (cJSON_GetArraySize(timing) > 32)
      dev_error(L, name, line, "timing has %d knobs; at most 32", cJSON_GetArraySize(timing));
    for (cJSON *t = timing->child; t; t = t->next)
      if (!cJSON_IsNumber(t) || !isfinite(t->valuedouble) || t->valuedouble < 0)
        dev_error(L, name, line, "timing.%s must be a number >= 0", t->string);
  } else {
    cJSON_AddObjectToObject(spec, "timing");
  }
  cJSON *features = cJSON_GetObjectItemCaseSensitive(spec, "features");
  if (features) {
    check_names(L, name, line, features, "features");
  } else {
    features = cJSON_AddArrayToObject(spec, "features");
    cJSON_AddItemToArray(features, cJSON_CreateString("power"));
    cJSON_AddItemToArray(features, cJSON_CreateString("console"));
  }
  check_extras(L, name, line, spec);
  if (lab_auth_check(spec, keys, sizeof keys) != 0) dev_error(L, name, line, "%s", keys);
  cJSON *env = cJSON_GetObjectItemCaseSensitive(spec, "env");
  if (env) {
    if (!cJSON_IsObject(env)) dev_error(L, name, line, "env must be a table of strings");
    for (cJSON *e = env->child; e; e = e->next) {
      if (!cJSON_IsString(e)) dev_error(L, name, line, "env.%s must be a string", e->string);
      if (!e->string[0] || strpbrk(e->string, "= \t\n"))
        dev_error(L, name, line, "env: '%s' is not a variable name", e->string);
    }
  }
  if (lab_placeholders_check(spec, keys, sizeof keys) != 0) dev_error(L, name, line, "%s", keys);
}

/* device "name" { ... } */
static int l_device_body(lua_State *L) {
  loader *ld = get_loader(L);
  const char *name = lua_tostring(L, lua_upvalueindex(1));
  int line = (int)lua_tointeger(L, lua_upvalueindex(2));
  if (!lua_istable(L, 1)) dev_error(L, name, line, "the declaration must be a table: device \"%s\" { ... }", name);
  for (size_t i = 0; i < ld->l->count; i++)
    if (strcmp(ld->l->devices[i].name, name) == 0)
      dev_error(L, name, line, "declared twice (first at line %d)", ld->l->devices[i].line);
  cJSON *spec = api_to_json(L, 1, 0);
  if (!cJSON_IsObject(spec)) {
    cJSON_Delete(spec);
    dev_error(L, name, line, "the declaration must be a table with named keys");
  }
  /* the spec must be freed if validation raises: park it in the lab first */
  lab_device *d = realloc(ld->l->devices, (ld->l->count + 1) * sizeof *d);
  if (!d) return luaL_error(L, "out of memory");
  ld->l->devices = d;
  d[ld->l->count].name = strdup(name);
  d[ld->l->count].line = line;
  d[ld->l->count].spec = spec;
  ld->l->count++;
  check_device(L, ld, name, line, spec);
  return 0;
}

static int l_device(lua_State *L) {
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  lua_Debug ar;
  int line = 0;
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar)) line = ar.currentline;
  if (!*name) {
    loader *ld = get_loader(L);
    return luaL_error(L, "\x01%s:%d: a device needs a name: device \"b1\" { ... }", ld->l->file, line);
  }
  if (strlen(name) != len || bad_name(name)) {
    loader *ld = get_loader(L);
    char shown[200];
    printable(name, len, shown, sizeof shown);
    return luaL_error(L, "\x01%s:%d: device name '%s' must be 1..128 printable bytes without '/'", ld->l->file, line,
                      shown);
  }
  lua_pushstring(L, name);
  lua_pushinteger(L, line);
  lua_pushcclosure(L, l_device_body, 2);
  return 1;
}

static uint32_t crc_of(const char *s) { /* FNV-1a: two versions never share a file */
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

/* otadev_image{ version = "2.0.0", size = 262144, fail_boot = false, fail_burn = false } -> path */
static int l_otadev_image(lua_State *L) {
  loader *ld = get_loader(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "version");
  const char *version = luaL_checkstring(L, -1);
  lua_Integer size = (lua_Integer)api_optnumfield(L, 1, "size", 262144);
  uint32_t flags = 0;
  lua_getfield(L, 1, "fail_boot");
  if (lua_toboolean(L, -1)) flags |= FWIMAGE_FAIL_BOOT;
  lua_getfield(L, 1, "fail_burn");
  if (lua_toboolean(L, -1)) flags |= FWIMAGE_FAIL_BURN;
  char path[PATH_MAX], safe[200];
  /* the version names the file: only [A-Za-z0-9._-] of it, so "/../../x" stays in image_dir */
  size_t k = 0;
  for (const char *c = version; *c && k < sizeof safe - 1; c++) {
    int ok = (isalnum((unsigned char)*c) || *c == '.' || *c == '-') && !(k == 0 && *c == '.');
    safe[k] = ok ? *c : '_';
    k++;
  }
  safe[k] = 0;
  snprintf(path, sizeof path, "%s/otadev-%s-%lld-%u-%08x.bin", ld->image_dir, safe, (long long)size, flags,
           (unsigned)crc_of(version));
  if (!file_exists(path)) {
    char err[512];
    if (fwimage_build(path, version, (uint64_t)size, flags, err, sizeof err) != 0)
      return luaL_error(L, "otadev_image: %s", err);
  }
  lua_pushstring(L, path);
  return 1;
}

/* The message handler of the lab file: a non-string error value gets a text,
 * every message its line ("lab.lua:12: ..."), while the stack is whole. */
static int lab__msgh(lua_State *L) {
  const char *m = lua_tostring(L, 1);
  if (m && strchr(m, '\x01')) return 1; /* ours: located already */
  lua_Debug ar;
  int line = 0;
  for (int l = 1; lua_getstack(L, l, &ar); l++)
    if (lua_getinfo(L, "l", &ar) && ar.currentline > 0) {
      line = ar.currentline;
      break;
    }
  loader *ld = get_loader(L);
  if (!m) {
    lua_pushfstring(L, "\x01%s:%d: error raised with a %s value, not a message", ld->l->file, line, luaL_typename(L, 1));
    return 1;
  }
  /* Lua's own "file:12: x" is located; anything else gets the line */
  if (strstr(m, ".lua:") == NULL) lua_pushfstring(L, "\x01%s:%d: %s", ld->l->file, line, m);
  else lua_pushfstring(L, "\x01%s", m);
  return 1;
}

void lab_free(lab *l) {
  if (!l) return;
  for (size_t i = 0; i < l->count; i++) {
    free(l->devices[i].name);
    cJSON_Delete(l->devices[i].spec);
  }
  free(l->devices);
  for (size_t i = 0; l->libs && l->libs[i]; i++) free(l->libs[i]);
  free(l->libs);
  free(l->file);
  free(l);
}

/* lib = { "folder", ... }: folders relative to the lab file's, inside it (no "..", not
   absolute), that exist. 0, or -1 with err. */
static int read_libs(lua_State *L, lab *l, const char *dir, char *err, size_t errlen) {
  int t = lua_getglobal(L, "lib");
  if (t == LUA_TNIL) return 0;
  if (t != LUA_TTABLE) {
    snprintf(err, errlen, "%s: lib must be a list of folders (lib = { \"lib\" }), not a %s", l->file, lua_typename(L, t));
    return -1;
  }
  lua_Integer n = luaL_len(L, -1);
  if (n > 16) {
    snprintf(err, errlen, "%s: lib: at most 16 folders", l->file);
    return -1;
  }
  l->libs = calloc((size_t)n + 1, sizeof *l->libs);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, i);
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    char full[PATH_MAX * 2], real[PATH_MAX];
    const char *why = !s || !*s ? "is not a folder name" : s[0] == '/' ? "is absolute (give it relative to the lab file)"
                      : (!strcmp(s, "..") || !strncmp(s, "../", 3) || strstr(s, "/../") ||
                         (strlen(s) >= 3 && !strcmp(s + strlen(s) - 3, "/.."))) ? "leaves the lab file's folder (\"..\")"
                      : NULL;
    struct stat st;
    if (!why) {
      snprintf(full, sizeof full, "%s/%s", dir, s);
      if (!realpath(full, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) why = "is not a folder";
    }
    if (why) {
      snprintf(err, errlen, "%s: lib[%lld] '%s' %s", l->file, (long long)i, s ? s : "?", why);
      return -1;
    }
    l->libs[i - 1] = strdup(real);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return 0;
}

int lab_load(const char *path, const char *image_dir, lab **out, char *err, size_t errlen) {
  lab *l = calloc(1, sizeof *l);
  loader ld = {.l = l, .image_dir = image_dir, .mem = {.limit = LAB_MEM_LIMIT}};
  l->file = strdup(path);
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s", path);
  snprintf(ld.dir, sizeof ld.dir, "%s", dirname(tmp));
  if (ld.dir[0] != '/' && realpath(ld.dir, tmp)) memcpy(ld.dir, tmp, sizeof ld.dir);
  ld.t0 = rt_mono();
  lua_State *L = lua_newstate(rt_mem_alloc, &ld.mem);
  if (!L) {
    snprintf(err, errlen, "%s: cannot create a Lua state", path);
    lab_free(l);
    return -1;
  }
  lua_sethook(L, lab__hook, LUA_MASKCOUNT, LAB_HOOK_EVERY);
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
  lua_pop(L, 4);
  /* a lab file declares; it does not run programs or read files */
  static const char *const deny[] = {"dofile", "loadfile", "load", "require", "collectgarbage", NULL};
  for (int i = 0; deny[i]; i++) {
    lua_pushnil(L);
    lua_setglobal(L, deny[i]);
  }
  lua_pushlightuserdata(L, &ld);
  lua_setfield(L, LUA_REGISTRYINDEX, LAB_KEY);
  lua_register(L, "device", l_device);
  lua_register(L, "otadev_image", l_otadev_image);
  int rc = -1, st = luaL_loadfilex(L, path, "t");
  if (st == LUA_OK) {
    lua_pushcfunction(L, lab__msgh);
    lua_insert(L, -2);
    st = lua_pcall(L, 0, 0, -2);
  }
  if (st == LUA_ERRMEM) {
    snprintf(err, errlen, "%s: the lab file needs more than %u MiB (a huge table?)", path, LAB_MEM_LIMIT >> 20);
  } else if (st != LUA_OK) {
    const char *m = lua_tostring(L, -1);
    m = m ? m : "error";
    /* our own errors carry their location after a \x01 marker */
    const char *mark = strchr(m, '\x01');
    if (mark) snprintf(err, errlen, "%s", mark + 1);
    else if (strncmp(m, "cannot open", 11) == 0) snprintf(err, errlen, "%s: %s", path, strerror(errno ? errno : ENOENT));
    else if (strncmp(m, path, strlen(path)) == 0 || strstr(m, ".lua:")) snprintf(err, errlen, "%s", m);
    else snprintf(err, errlen, "%s: %s", path, m); /* e.g. a binary chunk: name the file */
  } else if (l->count == 0) {
    snprintf(err, errlen, "%s: no device declared (device \"name\" { ... })", path);
  } else {
    rc = read_libs(L, l, ld.dir, err, errlen);
  }
  lua_close(L);
  if (rc != 0) {
    lab_free(l);
    return -1;
  }
  *out = l;
  return 0;
}

const char *lab_str(const lab_device *d, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(d->spec, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}
