/* lab_device_check: one device's declaration, key by key (lab_device.h). The
 * checks of the larger keys live in lab_<key>.c; this file holds the rest and
 * their order (an earlier key's error wins). */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lab_auth.h"
#include "lab_console.h"
#include "lab_deploy.h"
#include "lab_device.h"
#include "lab_network.h"
#include "lab_placeholders.h"
#include "lab_power.h"
#include "lab_tls.h"

static const char *const device_keys[] = {"dialect", "product", "device", "version", "kind",
                                          "cmd", "graceful", "images", "timing", "features",
                                          "env", "power", "console", "network", "deploy",
                                          "base_image", "modules", "strict", "secret", "tls", "auth", "lines",
                                          NULL};

static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
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

/* `p` relative to `dir` unless absolute; paths longer than PATH_MAX are cut and
 * then simply not found. */
static void absolute(const char *dir, const char *p, char *out, size_t len) {
  if (p[0] == '/') {
    size_t n = strlen(p);
    if (n >= len) n = len - 1;
    memcpy(out, p, n);
    out[n] = 0;
  } else {
    int n = snprintf(out, len, "%s/", dir);
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

/* The string item `v` names an existing file: made absolute in place. */
static int resolve_file(cJSON *v, const char *dir, char *path, size_t len) {
  absolute(dir, v->valuestring, path, len);
  if (!file_exists(path)) return -1;
  cJSON_SetValuestring(v, path);
  return 0;
}

/* images = { good = {[version] = file}, fail_boot = {version=, file=}, fail_burn = {...} } */
static int check_images(const char *dir, cJSON *img, char *err, size_t errlen) {
  if (!cJSON_IsObject(img)) return fail(err, errlen, "images must be a table");
  for (cJSON *k = img->child; k; k = k->next) {
    char path[PATH_MAX];
    if (strcmp(k->string, "good") == 0) {
      if (!cJSON_IsObject(k) || !k->child)
        return fail(err, errlen, "images.good must map versions to files, e.g. [\"2.0.0\"] = \"fw/2.0.0.bin\"");
      for (cJSON *v = k->child; v; v = v->next) {
        if (!cJSON_IsString(v)) return fail(err, errlen, "images.good[\"%s\"] must be a file name", v->string);
        if (resolve_file(v, dir, path, sizeof path) != 0)
          return fail(err, errlen, "images.good[\"%s\"]: file '%s' does not exist", v->string, path);
      }
    } else if (strcmp(k->string, "fail_boot") == 0 || strcmp(k->string, "fail_burn") == 0) {
      cJSON *ver = cJSON_GetObjectItemCaseSensitive(k, "version");
      cJSON *file = cJSON_GetObjectItemCaseSensitive(k, "file");
      if (!cJSON_IsString(ver) || !cJSON_IsString(file))
        return fail(err, errlen, "images.%s must be { version = \"...\", file = \"...\" }", k->string);
      if (resolve_file(file, dir, path, sizeof path) != 0)
        return fail(err, errlen, "images.%s: file '%s' does not exist", k->string, path);
    } else {
      return fail(err, errlen, "images.%s is unknown (good, fail_boot, fail_burn)", k->string);
    }
  }
  return 0;
}

/* A list of names (features, strict): strings only. */
static int check_names(const cJSON *list, const char *key, char *err, size_t errlen) {
  if (!cJSON_IsArray(list)) return fail(err, errlen, "%s must be a list of names, e.g. { \"a\", \"b\" }", key);
  for (const cJSON *f = list->child; f; f = f->next)
    if (!cJSON_IsString(f) || !f->valuestring[0]) return fail(err, errlen, "%s must hold only non-empty names", key);
  return 0;
}

/* A table of non-empty strings (modules, lines); `empty_list` accepts {} (an empty array). */
static int check_string_map(const cJSON *map, int empty_list, const char *what, const char *each, char *err,
                            size_t errlen) {
  if (!map) return 0;
  if (!cJSON_IsObject(map) && !(empty_list && cJSON_IsArray(map) && !map->child)) return fail(err, errlen, "%s", what);
  for (const cJSON *m = map->child; m; m = m->next)
    if (!cJSON_IsString(m) || !m->valuestring[0]) return fail(err, errlen, each, m->string);
  return 0;
}

/* modules = { MCU = "1.0.0" } (components besides the main firmware, with their
 * factory versions), lines = { burning = "..." } (the firmware's console lines
 * scenarios wait for, as Lua patterns), strict = { "progress-rate" } (rules the lab asks for beyond
 * the seeds' lenient reading: the dialect libraries name them), secret = "...". */
static int check_extras(const cJSON *spec, char *err, size_t errlen) {
  if (check_string_map(cJSON_GetObjectItemCaseSensitive(spec, "modules"), 1,
                       "modules must map module names to versions, e.g. { MCU = \"1.0.0\" }",
                       "modules.%s must be a version string", err, errlen) != 0 ||
      check_string_map(cJSON_GetObjectItemCaseSensitive(spec, "lines"), 0,
                       "lines must map names to Lua patterns of the console, e.g. { burning = \"burning\" }",
                       "lines.%s must be a Lua pattern (a non-empty string)", err, errlen) != 0)
    return -1;
  const cJSON *strict = cJSON_GetObjectItemCaseSensitive(spec, "strict");
  if (strict && check_names(strict, "strict", err, errlen) != 0) return -1;
  const cJSON *secret = cJSON_GetObjectItemCaseSensitive(spec, "secret");
  if (secret && (!cJSON_IsString(secret) || !secret->valuestring[0]))
    return fail(err, errlen, "secret must be a non-empty string (the device secret the platform signs with)");
  return 0;
}

int lab_bad_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 128) return 1;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 32 || *p == 127 || *p == '/') return 1;
  return 0;
}

void lab_printable(const char *s, size_t n, char *out, size_t len) {
  size_t k = 0;
  for (size_t i = 0; i < n && k + 5 < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 32 || c == 127) k += (size_t)snprintf(out + k, len - k, "\\x%02x", c);
    else out[k++] = (char)c;
  }
  out[k] = 0;
}

/* Known keys only; the four names present, strings, and product and device fit
 * topics, case ids and file names (no separators, no control bytes, a sane length). */
static int check_names_keys(const cJSON *spec, char *err, size_t errlen) {
  for (const cJSON *k = spec->child; k; k = k->next) {
    if (in_list(device_keys, k->string)) continue;
    char keys[512];
    list_of(device_keys, keys, sizeof keys);
    return fail(err, errlen, "key '%s' is unknown (%s)", k->string, keys);
  }
  static const char *const strings[] = {"dialect", "product", "device", "version", NULL};
  for (int i = 0; strings[i]; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, strings[i]);
    if (!v) return fail(err, errlen, "key '%s' is missing", strings[i]);
    if (!cJSON_IsString(v) || !*v->valuestring)
      return fail(err, errlen, "key '%s' must be a non-empty string", strings[i]);
  }
  static const char *const named[] = {"product", "device", NULL};
  for (int i = 0; named[i]; i++) {
    const char *v = cJSON_GetObjectItemCaseSensitive(spec, named[i])->valuestring;
    char shown[200];
    lab_printable(v, strlen(v), shown, sizeof shown);
    if (lab_bad_name(v)) return fail(err, errlen, "%s '%s' must be 1..128 printable bytes without '/'", named[i], shown);
  }
  /* the dialect is a name; which ones have a library is the catalogue's (catalogue.h) */
  return 0;
}

/* timing = { knob = seconds, ... } (at most LAB_TIMING_MAX) and features = { ... }
 * ({ "power", "console" } when absent). */
static int check_timing_features(cJSON *spec, char *err, size_t errlen) {
  cJSON *timing = cJSON_GetObjectItemCaseSensitive(spec, "timing");
  if (timing) {
    if (!cJSON_IsObject(timing)) return fail(err, errlen, "timing must be a table of numbers");
    if (cJSON_GetArraySize(timing) > LAB_TIMING_MAX)
      return fail(err, errlen, "timing has %d knobs; at most %d", cJSON_GetArraySize(timing), LAB_TIMING_MAX);
    for (const cJSON *t = timing->child; t; t = t->next)
      if (!cJSON_IsNumber(t) || !isfinite(t->valuedouble) || t->valuedouble < 0)
        return fail(err, errlen, "timing.%s must be a number >= 0", t->string);
  } else {
    cJSON_AddObjectToObject(spec, "timing");
  }
  cJSON *features = cJSON_GetObjectItemCaseSensitive(spec, "features");
  if (features) return check_names(features, "features", err, errlen);
  features = cJSON_AddArrayToObject(spec, "features");
  cJSON_AddItemToArray(features, cJSON_CreateString("power"));
  cJSON_AddItemToArray(features, cJSON_CreateString("console"));
  return 0;
}

static int check_env(const cJSON *env, char *err, size_t errlen) {
  if (!env) return 0;
  if (!cJSON_IsObject(env)) return fail(err, errlen, "env must be a table of strings");
  for (const cJSON *e = env->child; e; e = e->next) {
    if (!cJSON_IsString(e)) return fail(err, errlen, "env.%s must be a string", e->string);
    if (!e->string[0] || strpbrk(e->string, "= \t\n")) return fail(err, errlen, "env: '%s' is not a variable name", e->string);
  }
  return 0;
}

int lab_device_check(cJSON *spec, const char *name, const char *lab_dir, const char *image_dir, char *err,
                     size_t errlen) {
  if (check_names_keys(spec, err, errlen) != 0 || lab_power_check(spec, err, errlen) != 0 || /* kind, cmd, power */
      lab_console_check(spec, err, errlen) != 0 || lab_network_check(spec, err, errlen) != 0 ||
      lab_tls_check(spec, lab_dir, image_dir, name, err, errlen) != 0 || lab_deploy_check(spec, err, errlen) != 0)
    return -1;
  char path[PATH_MAX];
  cJSON *base = cJSON_GetObjectItemCaseSensitive(spec, "base_image"); /* deploy's {image} */
  if (base && resolve_file(base, lab_dir, path, sizeof path) != 0)
    return fail(err, errlen, "base_image: file '%s' does not exist", path);
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(spec, "graceful");
  if (g && !cJSON_IsBool(g)) return fail(err, errlen, "graceful must be true or false");
  cJSON *img = cJSON_GetObjectItemCaseSensitive(spec, "images");
  if (!img) cJSON_AddObjectToObject(spec, "images");
  else if (check_images(lab_dir, img, err, errlen) != 0) return -1;
  if (check_timing_features(spec, err, errlen) != 0 || check_extras(spec, err, errlen) != 0 ||
      lab_auth_check(spec, err, errlen) != 0 || check_env(cJSON_GetObjectItemCaseSensitive(spec, "env"), err, errlen) != 0)
    return -1;
  return lab_placeholders_check(spec, err, errlen);
}
