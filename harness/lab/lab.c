/* lab: the lab file's loader: a limited, sandboxed Lua state that runs the file,
 * device "name" { ... } (checked and built by lab_device*.c) and otadev_image{}. */
#include "lab.h"

#include <ctype.h>
#include <errno.h>
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
#include "lab_device.h"
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
  lab_device *dev = &d[ld->l->count++];
  memset(dev, 0, sizeof *dev);
  dev->name = strdup(name);
  dev->line = line;
  dev->spec = spec;
  char why[512];
  if (lab_device_check(spec, name, ld->dir, ld->image_dir, why, sizeof why) != 0)
    return dev_error(L, name, line, "%s", why);
  lab_device_build(dev);
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
  if (strlen(name) != len || lab_bad_name(name)) {
    loader *ld = get_loader(L);
    char shown[200];
    lab_printable(name, len, shown, sizeof shown);
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
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) { /* built before: same version, size and flags */
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
  for (size_t i = 0; i < l->count; i++) lab_device_clear(&l->devices[i]);
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
