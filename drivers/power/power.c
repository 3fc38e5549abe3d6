#include "power_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TIMEOUT 10.0

static const char *const process_keys[] = {NULL};
static const power_ops power_process_ops = {.name = "process", .keys = process_keys};

static const power_ops *const drivers[] = {&power_process_ops, &power_exec_ops,
                                           &power_pdudaemon_ops, &power_serial_dtr_ops,
                                           &power_http_ops, NULL};
static const char *const common_keys[] = {"driver", "timeout", "at_exit", NULL};
static const char *const at_exit_values[] = {"on", "off", "leave", NULL};

const char *power_driver_names(void) { return "process, exec, pdudaemon, serial-dtr, http"; }

static const power_ops *find_ops(const char *name) {
  for (int i = 0; drivers[i]; i++)
    if (strcmp(drivers[i]->name, name) == 0) return drivers[i];
  return NULL;
}

static int in_list(const char *const *names, const char *s) {
  for (int i = 0; names[i]; i++)
    if (strcmp(names[i], s) == 0) return 1;
  return 0;
}

static void list_of(const char *const *a, const char *const *b, char *out, size_t len) {
  size_t n = 0;
  out[0] = 0;
  const char *const *lists[] = {a, b};
  for (int l = 0; l < 2; l++)
    for (int i = 0; lists[l] && lists[l][i] && n < len; i++)
      n += (size_t)snprintf(out + n, len - n, "%s%s", n ? ", " : "", lists[l][i]);
}

const char *power_cfg_driver(const cJSON *cfg) {
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(cfg, "driver");
  return cJSON_IsString(d) ? d->valuestring : NULL;
}

int power_check(const cJSON *cfg, char *err, size_t errlen) {
  if (!cJSON_IsObject(cfg)) {
    snprintf(err, errlen, "power must be a table: power = { driver = \"exec\", ... }");
    return -1;
  }
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(cfg, "driver");
  if (!d) {
    snprintf(err, errlen, "power.driver is missing (%s)", power_driver_names());
    return -1;
  }
  const power_ops *ops = cJSON_IsString(d) ? find_ops(d->valuestring) : NULL;
  if (!ops) {
    snprintf(err, errlen, "power.driver '%s' is unknown (%s)", cJSON_IsString(d) ? d->valuestring : "?",
             power_driver_names());
    return -1;
  }
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(cfg, "timeout");
  if (t && (!cJSON_IsNumber(t) || !(t->valuedouble > 0))) {
    snprintf(err, errlen, "power.timeout must be a number > 0 (seconds per power call)");
    return -1;
  }
  if (power__check_choice(cfg, "at_exit", at_exit_values, err, errlen) != 0) return -1;
  if (ops->keys) {
    for (const cJSON *k = cfg->child; k; k = k->next) {
      if (in_list(common_keys, k->string) || in_list(ops->keys, k->string)) continue;
      char keys[512];
      list_of(common_keys, ops->keys, keys, sizeof keys);
      snprintf(err, errlen, "power.%s is unknown for the %s driver (%s)", k->string, ops->name, keys);
      return -1;
    }
  }
  return ops->check ? ops->check(cfg, err, errlen) : 0;
}

int power_new(const cJSON *cfg, const char *device, power **out, char *err, size_t errlen) {
  *out = NULL;
  if (power_check(cfg, err, errlen) != 0) return -1;
  const power_ops *ops = find_ops(power_cfg_driver(cfg));
  if (!ops->on) {
    snprintf(err, errlen, "device '%s': the %s driver is run by the harness, not by power_new", device,
             ops->name);
    return -1;
  }
  power *p = calloc(1, sizeof *p);
  if (!p) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  p->ops = ops;
  p->cfg = cJSON_Duplicate(cfg, 1);
  p->device = strdup(device);
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(cfg, "timeout");
  p->timeout = cJSON_IsNumber(t) ? t->valuedouble : DEFAULT_TIMEOUT;
  if (!p->cfg || !p->device) {
    power_free(p);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (ops->open && ops->open(p, err, errlen) != 0) {
    power_free(p);
    return -1;
  }
  *out = p;
  return 0;
}

/* Runs one op and puts "device 'x': power <what> (driver): " in front of its error. */
static int prefixed(power *p, const char *what, int rc, char *err, size_t errlen) {
  if (rc == 0) return 0;
  char why[1024];
  snprintf(why, sizeof why, "%s", err);
  snprintf(err, errlen, "device '%s': power %s (%s): %s", p->device, what, p->ops->name, why);
  return -1;
}

static double timeout_of(const power *p, const power_opts *o) {
  return o && o->timeout_s > 0 ? o->timeout_s : p->timeout;
}

static const power_opts no_opts = {0};

int power_on(power *p, const power_opts *o, char *err, size_t errlen) {
  if (!o) o = &no_opts;
  err[0] = 0;
  return prefixed(p, "on", p->ops->on(p, o, timeout_of(p, o), err, errlen), err, errlen);
}

int power_off(power *p, const power_opts *o, char *err, size_t errlen) {
  if (!o) o = &no_opts;
  err[0] = 0;
  return prefixed(p, "off", p->ops->off(p, o, timeout_of(p, o), err, errlen), err, errlen);
}

int power_cycle(power *p, const power_opts *o, char *err, size_t errlen) {
  if (!o) o = &no_opts;
  err[0] = 0;
  double timeout = timeout_of(p, o);
  if (p->ops->cycle) {
    int rc = p->ops->cycle(p, o, timeout, err, errlen);
    if (rc <= 0) return prefixed(p, "cycle", rc, err, errlen);
  }
  /* no request of its own: off, the delay, on; each with the whole timeout */
  if (prefixed(p, "cycle (off)", p->ops->off(p, o, timeout, err, errlen), err, errlen) != 0) return -1;
  if (o->delay_s > 0) power__sleep(o->delay_s);
  return prefixed(p, "cycle (on)", p->ops->on(p, o, timeout, err, errlen), err, errlen);
}

int power_state(power *p, const power_opts *o, power_state_t *out, char *err, size_t errlen) {
  if (!o) o = &no_opts;
  err[0] = 0;
  *out = POWER_UNKNOWN;
  if (!power_can_tell(p)) return 0;
  return prefixed(p, "state", p->ops->state(p, o, timeout_of(p, o), out, err, errlen), err, errlen);
}

const char *power_driver(const power *p) { return p->ops->name; }
double power_timeout(const power *p) { return p->timeout; }

int power_can_tell(const power *p) {
  if (!p->ops->state) return 0;
  return p->ops->can_tell ? p->ops->can_tell(p) : 1;
}

const char *power_state_name(power_state_t s) {
  return s == POWER_ON ? "on" : s == POWER_OFF ? "off" : "unknown";
}

void power_free(power *p) {
  if (!p) return;
  if (p->ops->close) p->ops->close(p);
  cJSON_Delete(p->cfg);
  free(p->device);
  free(p);
}

/* ---- helpers for the drivers --------------------------------------------- */

static const char *lookup(const power *p, const char *key, size_t klen, const power_opts *o,
                          int free_keys, char *num, size_t numlen) {
  for (const char *const *v = o ? o->vars : NULL; v && v[0] && v[1]; v += 2)
    if (strlen(v[0]) == klen && memcmp(v[0], key, klen) == 0) return v[1];
  if (!free_keys) return NULL;
  for (const cJSON *k = p->cfg->child; k; k = k->next) {
    if (strlen(k->string) != klen || memcmp(k->string, key, klen) != 0) continue;
    if (cJSON_IsString(k)) return k->valuestring;
    if (cJSON_IsNumber(k)) {
      snprintf(num, numlen, "%.15g", k->valuedouble);
      return num;
    }
  }
  return NULL;
}

char *power__expand(const power *p, const char *s, const power_opts *o, int free_keys, char *err,
                    size_t errlen) {
  size_t cap = strlen(s) + 64, n = 0;
  char *out = malloc(cap);
  if (!out) abort();
  while (*s) {
    const char *close = *s == '{' ? strchr(s, '}') : NULL;
    const char *val = NULL;
    char num[64];
    if (close) {
      size_t klen = (size_t)(close - s - 1);
      val = lookup(p, s + 1, klen, o, free_keys, num, sizeof num);
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

const char *power__str(const cJSON *cfg, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

int power__check_string(const cJSON *cfg, const char *key, int required, char *err, size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
  if (!v && !required) return 0;
  if (!v) {
    snprintf(err, errlen, "power.%s is missing (the %s driver needs it)", key, power_cfg_driver(cfg));
    return -1;
  }
  if (!cJSON_IsString(v) || !*v->valuestring) {
    snprintf(err, errlen, "power.%s must be a non-empty string", key);
    return -1;
  }
  return 0;
}

int power__check_argv(const cJSON *cfg, const char *key, int required, char *err, size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
  if (!v && !required) return 0;
  if (!v) {
    snprintf(err, errlen, "power.%s is missing (the %s driver needs it: a command as a list, e.g. "
             "{\"relay-ctl\", \"{port}\", \"on\"})", key, power_cfg_driver(cfg));
    return -1;
  }
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0) {
    snprintf(err, errlen, "power.%s must be a non-empty list of strings (argv; no shell)", key);
    return -1;
  }
  for (const cJSON *a = v->child; a; a = a->next)
    if (!cJSON_IsString(a)) {
      snprintf(err, errlen, "power.%s must hold only strings (argv; no shell)", key);
      return -1;
    }
  return 0;
}

int power__check_choice(const cJSON *cfg, const char *key, const char *const *choices, char *err,
                        size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
  if (!v || (cJSON_IsString(v) && in_list(choices, v->valuestring))) return 0;
  char list[256];
  list_of(choices, NULL, list, sizeof list);
  snprintf(err, errlen, "power.%s '%s' is unknown (%s)", key, cJSON_IsString(v) ? v->valuestring : "?",
           list);
  return -1;
}

double power__now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void power__sleep(double seconds) {
  struct timespec t = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
  while (nanosleep(&t, &t) != 0 && errno == EINTR) {
  }
}

void power__last_line(const char *text, size_t len, char *out, size_t outlen) {
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ')) len--;
  size_t start = len;
  while (start > 0 && text[start - 1] != '\n') start--;
  size_t n = len - start;
  if (n >= outlen) n = outlen - 1;
  memcpy(out, text + start, n);
  out[n] = 0;
}
