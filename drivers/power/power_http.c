/* http: a generic REST relay (Shelly, Tasmota, a lab's own little box). Each
 * action is a request: on = { url =, method = "GET", body =, status = 200 };
 * without status any 2xx is success. state = { url =, json = "ison" } reads
 * the relay back: the JSON key's value (true/false, "ON"/"OFF", 1/0), or
 * without json the whole body ("on"/"off"). url and body take {placeholders}
 * from the call (and {delay} in cycle). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "power_int.h"

static const char *const keys[] = {"on", "off", "cycle", "state", "user", "password", NULL};
static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};

static int check_action(const cJSON *cfg, const char *key, int required, char *err, size_t errlen) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(cfg, key);
  if (!a && !required) return 0;
  if (!a) {
    snprintf(err, errlen, "power.%s is missing (the http driver needs on and off: { url = \"http://relay/on\" })",
             key);
    return -1;
  }
  if (!cJSON_IsObject(a)) {
    snprintf(err, errlen, "power.%s must be a table { url =, method =, body =, status = }", key);
    return -1;
  }
  int is_state = strcmp(key, "state") == 0;
  for (const cJSON *k = a->child; k; k = k->next) {
    if (!strcmp(k->string, "url") || !strcmp(k->string, "method") || !strcmp(k->string, "body") ||
        !strcmp(k->string, "status") || (is_state && !strcmp(k->string, "json")))
      continue;
    snprintf(err, errlen, "power.%s.%s is unknown (url, method, body, status%s)", key, k->string,
             is_state ? ", json" : "");
    return -1;
  }
  const cJSON *url = cJSON_GetObjectItemCaseSensitive(a, "url");
  if (!cJSON_IsString(url) ||
      (strncmp(url->valuestring, "http://", 7) != 0 && strncmp(url->valuestring, "https://", 8) != 0)) {
    snprintf(err, errlen, "power.%s.url %s", key, url ? "must be an http:// or https:// URL" : "is missing");
    return -1;
  }
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(a, "method");
  int known = 0;
  for (int i = 0; m && cJSON_IsString(m) && methods[i]; i++) known |= strcmp(methods[i], m->valuestring) == 0;
  if (m && !known) {
    snprintf(err, errlen, "power.%s.method '%s' is unknown (GET, POST, PUT, PATCH, DELETE)", key,
             cJSON_IsString(m) ? m->valuestring : "?");
    return -1;
  }
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(a, "body");
  if (b && !cJSON_IsString(b)) {
    snprintf(err, errlen, "power.%s.body must be a string", key);
    return -1;
  }
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(a, "status");
  if (s && !(cJSON_IsNumber(s) && s->valuedouble >= 100 && s->valuedouble <= 599 &&
             s->valuedouble == floor(s->valuedouble))) {
    snprintf(err, errlen, "power.%s.status must be an HTTP status (100-599)", key);
    return -1;
  }
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(a, "json");
  if (j && !(cJSON_IsString(j) && *j->valuestring)) {
    snprintf(err, errlen, "power.%s.json must be a key name, e.g. \"ison\" or \"POWER\"", key);
    return -1;
  }
  return 0;
}

static int http_check(const cJSON *cfg, char *err, size_t errlen) {
  if (check_action(cfg, "on", 1, err, errlen) || check_action(cfg, "off", 1, err, errlen) ||
      check_action(cfg, "cycle", 0, err, errlen) || check_action(cfg, "state", 0, err, errlen))
    return -1;
  if (power__check_string(cfg, "user", 0, err, errlen) || power__check_string(cfg, "password", 0, err, errlen))
    return -1;
  if (cJSON_GetObjectItemCaseSensitive(cfg, "password") && !cJSON_GetObjectItemCaseSensitive(cfg, "user")) {
    snprintf(err, errlen, "power.password needs power.user");
    return -1;
  }
  return 0;
}

/* Sends the action's request; *resp gets the body when resp != NULL. */
static int act(power *p, const char *key, const power_opts *o, double timeout, char **resp, char *err,
               size_t errlen) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(p->cfg, key);
  const char *method = power__str(a, "method");
  if (!method) method = "GET";
  char why[256];
  char *url = power__expand(p, power__str(a, "url"), o, 0, why, sizeof why);
  if (!url) {
    snprintf(err, errlen, "power.%s.url %s", key, why);
    return -1;
  }
  char *body = NULL;
  if (power__str(a, "body")) {
    body = power__expand(p, power__str(a, "body"), o, 0, why, sizeof why);
    if (!body) {
      snprintf(err, errlen, "power.%s.body %s", key, why);
      free(url);
      return -1;
    }
  }
  long status = 0;
  char *r = NULL;
  int rc = power__http(method, url, body, power__str(p->cfg, "user"), power__str(p->cfg, "password"), timeout,
                       &status, &r, err, errlen);
  if (rc == 0) {
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(a, "status");
    int ok = want ? status == (long)want->valuedouble : status >= 200 && status < 300;
    if (!ok) {
      char last[256], exp[32];
      power__last_line(r, strlen(r), last, sizeof last);
      if (want) snprintf(exp, sizeof exp, "%ld", (long)want->valuedouble);
      else snprintf(exp, sizeof exp, "2xx");
      snprintf(err, errlen, "%s %s answered %ld (expected %s)%s%s", method, url, status, exp,
               last[0] ? ": " : "", last);
      rc = -1;
    }
  }
  if (rc == 0 && resp) *resp = r;
  else free(r);
  free(url);
  free(body);
  return rc;
}

static int http_on(power *p, const power_opts *o, double timeout, char *err, size_t errlen) {
  return act(p, "on", o, timeout, NULL, err, errlen);
}

static int http_off(power *p, const power_opts *o, double timeout, char *err, size_t errlen) {
  return act(p, "off", o, timeout, NULL, err, errlen);
}

static int http_cycle(power *p, const power_opts *o, double timeout, char *err, size_t errlen) {
  if (!cJSON_GetObjectItemCaseSensitive(p->cfg, "cycle")) return 1;
  char delay[32];
  snprintf(delay, sizeof delay, "%.15g", o->delay_s);
  size_t nv = 0;
  for (const char *const *v = o->vars; v && v[0] && v[1]; v += 2) nv += 2;
  const char **vars = calloc(nv + 3, sizeof *vars);
  if (!vars) abort();
  if (nv) memcpy(vars, o->vars, nv * sizeof *vars);
  vars[nv] = "delay";
  vars[nv + 1] = delay;
  power_opts o2 = *o;
  o2.vars = vars;
  int rc = act(p, "cycle", &o2, timeout + o->delay_s, NULL, err, errlen);
  free(vars);
  return rc;
}

static int word_state(const char *s, power_state_t *st) {
  while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t' || *s == '"') s++;
  size_t n = 0;
  while (s[n] && s[n] != ' ' && s[n] != '\n' && s[n] != '\r' && s[n] != '\t' && s[n] != '"') n++;
  if ((n == 2 && !strncasecmp(s, "on", 2)) || (n == 1 && s[0] == '1') || (n == 4 && !strncasecmp(s, "true", 4)))
    *st = POWER_ON;
  else if ((n == 3 && !strncasecmp(s, "off", 3)) || (n == 1 && s[0] == '0') ||
           (n == 5 && !strncasecmp(s, "false", 5)))
    *st = POWER_OFF;
  else
    return -1;
  return 0;
}

static int http_state(power *p, const power_opts *o, double timeout, power_state_t *st, char *err,
                      size_t errlen) {
  char *body = NULL;
  if (act(p, "state", o, timeout, &body, err, errlen) != 0) return -1;
  const char *key = power__str(cJSON_GetObjectItemCaseSensitive(p->cfg, "state"), "json");
  int rc = 0;
  if (!key) {
    rc = word_state(body, st);
    if (rc) {
      char last[128];
      power__last_line(body, strlen(body), last, sizeof last);
      snprintf(err, errlen, "power.state: the answer '%s' is neither on nor off (set state.json for a JSON answer)",
               last);
    }
  } else {
    cJSON *doc = cJSON_Parse(body);
    const cJSON *v = doc;
    /* a dotted path: "relays.0.ison" style keys are common; numbers index arrays */
    char path[256];
    snprintf(path, sizeof path, "%s", key);
    for (char *seg = path, *dot; v && seg; seg = dot) {
      dot = strchr(seg, '.');
      if (dot) *dot++ = 0;
      char *end;
      long idx = strtol(seg, &end, 10);
      v = cJSON_IsArray(v) && !*end ? cJSON_GetArrayItem(v, (int)idx) : cJSON_GetObjectItemCaseSensitive(v, seg);
    }
    if (cJSON_IsBool(v)) *st = cJSON_IsTrue(v) ? POWER_ON : POWER_OFF;
    else if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1))
      *st = v->valuedouble == 1 ? POWER_ON : POWER_OFF;
    else if (cJSON_IsString(v) && word_state(v->valuestring, st) == 0) {
    } else {
      snprintf(err, errlen, "power.state: the answer has no on/off value at '%s'%s", key,
               doc ? "" : " (not JSON)");
      rc = -1;
    }
    cJSON_Delete(doc);
  }
  free(body);
  return rc;
}

static int http_can_tell(const power *p) { return cJSON_GetObjectItemCaseSensitive(p->cfg, "state") != NULL; }

const power_ops power_http_ops = {
    .name = "http",
    .keys = keys,
    .check = http_check,
    .on = http_on,
    .off = http_off,
    .cycle = http_cycle,
    .state = http_state,
    .can_tell = http_can_tell,
};
