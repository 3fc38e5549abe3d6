/* pdudaemon: power through PDUDaemon's HTTP listener, the daemon labs already
 * run so that requests to one PDU are serialized and retried in one place.
 *   GET {daemon}/power/control/{on|off|reboot}?hostname=PDU&port=N[&delay=S]
 *   (or ?alias=NAME instead of hostname and port)
 * PDUDaemon 0.0.8 answers 200 "OK - accepted request" after the job ran and
 * 500 "Invalid request" for an unknown PDU or alias. It cannot tell a port's
 * state. `reboot` takes whole seconds for its delay. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "power_int.h"

#define DEFAULT_DAEMON "http://127.0.0.1:16421"

static const char *const keys[] = {"daemon", "hostname", "port", "alias", NULL};

static int pdu_check(const cJSON *cfg, char *err, size_t errlen) {
  const cJSON *host = cJSON_GetObjectItemCaseSensitive(cfg, "hostname");
  const cJSON *port = cJSON_GetObjectItemCaseSensitive(cfg, "port");
  const cJSON *alias = cJSON_GetObjectItemCaseSensitive(cfg, "alias");
  if (power__check_string(cfg, "daemon", 0, err, errlen)) return -1;
  const char *d = power__str(cfg, "daemon");
  if (d && strncmp(d, "http://", 7) != 0 && strncmp(d, "https://", 8) != 0) {
    snprintf(err, errlen, "power.daemon '%s' must be a URL like %s", d, DEFAULT_DAEMON);
    return -1;
  }
  if (alias) {
    if (host || port) {
      snprintf(err, errlen, "power.alias cannot go with hostname or port (PDUDaemon takes one or the other)");
      return -1;
    }
    return power__check_string(cfg, "alias", 1, err, errlen);
  }
  if (!host || !port) {
    snprintf(err, errlen, "power.%s is missing (the pdudaemon driver needs hostname and port, or alias)",
             host ? "port" : "hostname");
    return -1;
  }
  if (power__check_string(cfg, "hostname", 1, err, errlen)) return -1;
  if (!(cJSON_IsNumber(port) && port->valuedouble >= 0 && port->valuedouble == floor(port->valuedouble)) &&
      !(cJSON_IsString(port) && *port->valuestring)) {
    snprintf(err, errlen, "power.port must be the PDU's outlet number");
    return -1;
  }
  return 0;
}

static void escape(const char *s, char *out, size_t len) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n = 0;
  for (; *s && n + 4 < len; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c)) {
      out[n++] = (char)c;
    } else {
      out[n++] = '%';
      out[n++] = hex[c >> 4];
      out[n++] = hex[c & 15];
    }
  }
  out[n] = 0;
}

static int request(power *p, const char *what, const char *delay, double timeout, char *err,
                   size_t errlen) {
  const char *daemon = power__str(p->cfg, "daemon");
  if (!daemon) daemon = DEFAULT_DAEMON;
  size_t dl = strlen(daemon);
  while (dl > 0 && daemon[dl - 1] == '/') dl--;
  char q[1024], a[256], b[256];
  const cJSON *port = cJSON_GetObjectItemCaseSensitive(p->cfg, "port");
  if (power__str(p->cfg, "alias")) {
    escape(power__str(p->cfg, "alias"), a, sizeof a);
    snprintf(q, sizeof q, "alias=%s", a);
  } else {
    escape(power__str(p->cfg, "hostname"), a, sizeof a);
    if (cJSON_IsNumber(port)) snprintf(b, sizeof b, "%.0f", port->valuedouble);
    else escape(port->valuestring, b, sizeof b);
    snprintf(q, sizeof q, "hostname=%s&port=%s", a, b);
  }
  char url[2048];
  snprintf(url, sizeof url, "%.*s/power/control/%s?%s%s%s", (int)dl, daemon, what, q, delay ? "&delay=" : "",
           delay ? delay : "");
  long status = 0;
  char *resp = NULL;
  if (power__http("GET", url, NULL, NULL, NULL, timeout, &status, &resp, err, errlen) != 0) return -1;
  int rc = 0;
  if (status != 200) {
    char last[256];
    power__last_line(resp, strlen(resp), last, sizeof last);
    snprintf(err, errlen, "%s answered %ld%s%s (is the PDU or alias in its configuration?)", url, status,
             last[0] ? ": " : "", last);
    rc = -1;
  }
  free(resp);
  return rc;
}

static int pdu_on(power *p, const power_opts *o, double timeout, char *err, size_t errlen) {
  (void)o;
  return request(p, "on", NULL, timeout, err, errlen);
}

static int pdu_off(power *p, const power_opts *o, double timeout, char *err, size_t errlen) {
  (void)o;
  return request(p, "off", NULL, timeout, err, errlen);
}

static int pdu_cycle(power *p, const power_opts *o, double timeout, char *err, size_t errlen) {
  /* the daemon sleeps whole seconds between off and on: round up, never shorter */
  char delay[32];
  double d = ceil(o->delay_s > 0 ? o->delay_s : 0);
  snprintf(delay, sizeof delay, "%.0f", d);
  return request(p, "reboot", delay, timeout + d, err, errlen);
}

const power_ops power_pdudaemon_ops = {
    .name = "pdudaemon",
    .keys = keys,
    .check = pdu_check,
    .on = pdu_on,
    .off = pdu_off,
    .cycle = pdu_cycle,
};
