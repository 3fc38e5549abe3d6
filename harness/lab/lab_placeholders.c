/* lab_placeholders: the {names} a lab's commands may use (lab_placeholders.h). */
#include "lab_placeholders.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


const char *const lab_placeholder_names[] = {
    "bindir", "root",     "mqtt_host", "mqtt_port", "http_host", "http_port",    "broker_port", "fw_port", "state_dir",
    "mcu_tty", "mcu_peer_tty", "name", "product", "device", "version", "dialect", "mqtt_scheme", "http_scheme", NULL};

/* The device's names as lab_expand's key, value pairs (values empty). */
static size_t known_pairs(const cJSON *spec, int with_image, const char **pairs, size_t max) {
  size_t n = 0;
  for (int i = 0; lab_placeholder_names[i] && n + 2 < max; i++) pairs[n++] = lab_placeholder_names[i], pairs[n++] = "";
  if (cJSON_GetObjectItemCaseSensitive(spec, "secret") && n + 2 < max) pairs[n++] = "secret", pairs[n++] = "";
  if (cJSON_GetObjectItemCaseSensitive(spec, "tls") && n + 2 < max) pairs[n++] = "ca_file", pairs[n++] = ""; /* lab_tls.h */
  if (with_image && n + 2 < max) pairs[n++] = "image", pairs[n++] = "";
  const cJSON *timing = cJSON_GetObjectItemCaseSensitive(spec, "timing");
  for (const cJSON *t = timing ? timing->child : NULL; t && n + 2 < max; t = t->next) pairs[n++] = t->string, pairs[n++] = "";
  pairs[n] = NULL;
  return n / 2;
}

static void known_list(const char **pairs, char *out, size_t len) {
  size_t k = 0;
  out[0] = 0;
  for (int i = 0; pairs[i] && k < len; i += 2) k += (size_t)snprintf(out + k, len - k, "%s%s", i ? " " : "", pairs[i]);
}

/* Every string of `list` (an array, or a table's values) expands with the names known. */
static int check_strings(const cJSON *list, const char *what, const char **pairs, char *err, size_t errlen) {
  int i = 0;
  for (const cJSON *a = list ? list->child : NULL; a; a = a->next, i++) {
    if (!cJSON_IsString(a)) continue;
    char why[256];
    char *v = lab_expand(a->valuestring, pairs, why, sizeof why);
    if (v) {
      free(v);
      continue;
    }
    char known[1024];
    known_list(pairs, known, sizeof known);
    if (a->string) snprintf(err, errlen, "%s.%s %s (known: %s)", what, a->string, why, known);
    else snprintf(err, errlen, "%s[%d] %s (known: %s)", what, i + 1, why, known);
    return -1;
  }
  return 0;
}

int lab_placeholders_check(const cJSON *spec, char *err, size_t errlen) {
  const char *pairs[2 * 64 + 8];
  known_pairs(spec, 0, pairs, sizeof pairs / sizeof *pairs);
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(spec, "kind");
  int process = !cJSON_IsString(kind) || strcmp(kind->valuestring, "process") == 0;
  if (process && check_strings(cJSON_GetObjectItemCaseSensitive(spec, "cmd"), "cmd", pairs, err, errlen) != 0)
    return -1;
  if (check_strings(cJSON_GetObjectItemCaseSensitive(spec, "env"), "env", pairs, err, errlen) != 0) return -1;
  known_pairs(spec, cJSON_GetObjectItemCaseSensitive(spec, "base_image") != NULL, pairs, sizeof pairs / sizeof *pairs);
  const cJSON *deploy = cJSON_GetObjectItemCaseSensitive(spec, "deploy");
  return check_strings(cJSON_GetObjectItemCaseSensitive(deploy, "cmd"), "deploy.cmd", pairs, err, errlen);
}

/* Some string of `list` (an array, or a table's values) holds "{name}". */
static int strings_use(const cJSON *list, const char *braced) {
  for (const cJSON *a = list ? list->child : NULL; a; a = a->next)
    if (cJSON_IsString(a) && strstr(a->valuestring, braced)) return 1;
  return 0;
}

int lab_placeholders_uses(const cJSON *spec, const char *name) {
  char braced[80];
  snprintf(braced, sizeof braced, "{%s}", name);
  const cJSON *deploy = cJSON_GetObjectItemCaseSensitive(spec, "deploy");
  return strings_use(cJSON_GetObjectItemCaseSensitive(spec, "cmd"), braced) ||
         strings_use(cJSON_GetObjectItemCaseSensitive(spec, "env"), braced) ||
         strings_use(cJSON_GetObjectItemCaseSensitive(deploy, "cmd"), braced);
}

static const char *lookup(const char *const *vars, const char *key, size_t klen) {
  for (const char *const *v = vars; v && v[0] && v[1]; v += 2)
    if (strlen(v[0]) == klen && memcmp(v[0], key, klen) == 0) return v[1];
  return NULL;
}

/* drivers/power keeps a private loop like this one (power.c's power__expand): an
 * exec or http driver fills its own table's free keys ({port}) and cycle's {delay}
 * per call, after the harness handed it these values as power_opts.vars; a driver
 * cannot include this header, and the harness does not know a driver's keys. */
char *lab_expand(const char *s, const char *const *vars, char *err, size_t errlen) {
  size_t cap = strlen(s) + 64, n = 0;
  char *out = malloc(cap);
  if (!out) abort();
  while (*s) {
    const char *close = *s == '{' ? strchr(s, '}') : NULL;
    const char *val = NULL;
    if (close) {
      size_t klen = (size_t)(close - s - 1);
      val = lookup(vars, s + 1, klen);
      if (!val) {
        snprintf(err, errlen, "uses the unknown placeholder {%.*s}", (int)klen, s + 1);
        free(out);
        return NULL;
      }
    }
    size_t add = val ? strlen(val) : 1;
    if (n + add + 1 > cap) {
      cap = (n + add + 1) * 2;
      out = realloc(out, cap);
      if (!out) abort();
    }
    if (val) {
      memcpy(out + n, val, add);
      s = close + 1;
    } else {
      out[n] = *s++;
    }
    n += add;
  }
  out[n] = 0;
  return out;
}

char **lab_expand_all(size_t n, const char *const *strs, const char *const *names, const char *const *vars,
                      size_t *bad, char *err, size_t errlen) {
  char **out = calloc(n + 1, sizeof *out);
  if (!out) abort();
  for (size_t i = 0; i < n; i++) {
    char *v = lab_expand(strs[i], vars, err, errlen);
    if (!v) {
      *bad = i;
      lab_expand_free(out);
      return NULL;
    }
    if (names) {
      size_t len = strlen(names[i]) + strlen(v) + 2;
      out[i] = malloc(len);
      if (!out[i]) abort();
      snprintf(out[i], len, "%s=%s", names[i], v);
      free(v);
    } else {
      out[i] = v;
    }
  }
  return out;
}

void lab_expand_free(char **list) {
  for (char **a = list; a && *a; a++) free(*a);
  free(list);
}
