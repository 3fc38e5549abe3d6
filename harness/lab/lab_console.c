#include "lab_console.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const keys[] = {"transport", "port",  "baud",     "parity", "data_bits", "stop_bits",
                                   "flow",      "host",  "tcp_port", "retry",  "death",     "cap_bytes",
                                   "cap_rate",  NULL};
static const char *const transports[] = {"pty", "serial", "tcp", "telnet", NULL};
static const char *const serial_keys[] = {"port", "baud", "parity", "data_bits", "stop_bits", "flow", NULL};
static const char *const tcp_keys[] = {"host", "tcp_port", NULL};
static const char *const parities[] = {"none", "odd", "even", "mark", "space", NULL};
static const char *const flows[] = {"none", "xonxoff", "rtscts", "dtrdsr", NULL};

static int in_list(const char *const *names, const char *s) {
  for (int i = 0; names[i]; i++)
    if (strcmp(names[i], s) == 0) return 1;
  return 0;
}

static void list_of(const char *const *names, char *out, size_t len) {
  size_t n = 0;
  out[0] = 0;
  for (int i = 0; names[i] && n < len; i++)
    n += (size_t)snprintf(out + n, len - n, "%s%s", i ? ", " : "", names[i]);
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

/* An integer key within [lo, hi], or the default when absent. */
static int check_int(cJSON *con, const char *key, int lo, int hi, int def, char *err, size_t errlen) {
  cJSON *v = cJSON_GetObjectItemCaseSensitive(con, key);
  if (!v) {
    cJSON_AddNumberToObject(con, key, def);
    return 0;
  }
  if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long long)v->valuedouble || v->valuedouble < lo ||
      v->valuedouble > hi) {
    snprintf(err, errlen, "console.%s must be a whole number from %d to %d", key, lo, hi);
    return -1;
  }
  return 0;
}

static int check_choice(cJSON *con, const char *key, const char *const *choices, char *err, size_t errlen) {
  cJSON *v = cJSON_GetObjectItemCaseSensitive(con, key);
  char names[128];
  list_of(choices, names, sizeof names);
  if (!v) {
    cJSON_AddStringToObject(con, key, choices[0]);
    return 0;
  }
  if (!cJSON_IsString(v)) return fail(err, errlen, "console.%s must be one of %s", key, names);
  if (!in_list(choices, v->valuestring)) {
    snprintf(err, errlen, "console.%s '%s' is unknown (%s)", key, v->valuestring, names);
    return -1;
  }
  return 0;
}

static int check_death(cJSON *death, char *err, size_t errlen) {
  const char *shape = "console.death must be a list of texts or { re = \"...\" }";
  if (!cJSON_IsArray(death)) return fail(err, errlen, "%s", shape);
  int i = 0;
  for (cJSON *d = death->child; d; d = d->next) {
    i++;
    if (cJSON_IsString(d)) {
      if (!*d->valuestring) {
        snprintf(err, errlen, "console.death[%d] is empty", i);
        return -1;
      }
      continue;
    }
    cJSON *re = cJSON_GetObjectItemCaseSensitive(d, "re");
    if (!cJSON_IsObject(d) || !cJSON_IsString(re) || cJSON_GetArraySize(d) != 1) {
      snprintf(err, errlen, "console.death[%d]: %s", i, shape);
      return -1;
    }
    regex_t rx;
    int rc = regcomp(&rx, re->valuestring, REG_EXTENDED | REG_NEWLINE | REG_NOSUB);
    if (rc != 0) {
      char why[200];
      regerror(rc, &rx, why, sizeof why);
      snprintf(err, errlen, "console.death[%d]: bad regex '%s': %s", i, re->valuestring, why);
      return -1;
    }
    regfree(&rx);
  }
  return 0;
}

/* The console table of spec (made when absent, an empty Lua table turned from
 * JSON's [] into {}), holding only known keys: *out, or -1 with err. */
static int console_table(cJSON *spec, cJSON **out, char *err, size_t errlen) {
  cJSON *con = cJSON_GetObjectItemCaseSensitive(spec, "console");
  if (!con) con = cJSON_AddObjectToObject(spec, "console");
  /* an empty Lua table becomes an empty JSON array */
  if (cJSON_IsArray(con) && cJSON_GetArraySize(con) == 0) {
    con = cJSON_CreateObject();
    cJSON_ReplaceItemInObjectCaseSensitive(spec, "console", con);
  }
  if (!cJSON_IsObject(con))
    return fail(err, errlen, "console must be a table: console = { transport = \"serial\", port = \"/dev/ttyUSB0\" }");
  char names[256];
  for (cJSON *k = con->child; k; k = k->next) {
    if (!in_list(keys, k->string)) {
      list_of(keys, names, sizeof names);
      snprintf(err, errlen, "console.%s is unknown (%s)", k->string, names);
      return -1;
    }
  }
  *out = con;
  return 0;
}

/* console.transport, guessed from the keys when absent: *out, or -1 with err. */
static int check_transport(cJSON *con, const char **out, char *err, size_t errlen) {
  char names[256];
  cJSON *tr = cJSON_GetObjectItemCaseSensitive(con, "transport");
  if (!tr) {
    const char *guess = cJSON_GetObjectItemCaseSensitive(con, "port") ? "serial"
                      : cJSON_GetObjectItemCaseSensitive(con, "tcp_port") ? "tcp" : "pty";
    tr = cJSON_AddStringToObject(con, "transport", guess);
  }
  list_of(transports, names, sizeof names);
  if (!cJSON_IsString(tr)) return fail(err, errlen, "console.transport must be one of %s", names);
  if (!in_list(transports, tr->valuestring)) {
    snprintf(err, errlen, "console.transport '%s' is unknown (%s)", tr->valuestring, names);
    return -1;
  }
  *out = tr->valuestring;
  return 0;
}

/* A key of another transport is a mistake worth naming; telnet takes the tcp
 * keys, and baud for RFC 2217. */
static int check_foreign_keys(cJSON *con, const char *t, char *err, size_t errlen) {
  int telnet = strcmp(t, "telnet") == 0;
  for (cJSON *k = con->child; k; k = k->next) {
    int is_baud = strcmp(k->string, "baud") == 0;
    if (in_list(serial_keys, k->string) && strcmp(t, "serial") != 0 && !(telnet && is_baud)) {
      snprintf(err, errlen, "console.%s is for transport 'serial' (this console is '%s')%s", k->string, t,
               is_baud ? "; transport 'telnet' takes it too, to set the rate through RFC 2217" : "");
      return -1;
    }
    if (in_list(tcp_keys, k->string) && strcmp(t, "tcp") != 0 && !telnet) {
      snprintf(err, errlen, "console.%s is for transport 'tcp' or 'telnet' (this console is '%s')", k->string, t);
      return -1;
    }
  }
  return 0;
}

static int check_serial(cJSON *con, char *err, size_t errlen) {
  cJSON *port = cJSON_GetObjectItemCaseSensitive(con, "port");
  if (!port) return fail(err, errlen, "console.port is missing (the serial device, e.g. \"/dev/ttyUSB0\")");
  if (!cJSON_IsString(port) || !*port->valuestring)
    return fail(err, errlen, "console.port must be a path such as \"/dev/ttyUSB0\"");
  if (check_int(con, "baud", 50, 4000000, 115200, err, errlen) ||
      check_int(con, "data_bits", 5, 8, 8, err, errlen) ||
      check_int(con, "stop_bits", 1, 2, 1, err, errlen) ||
      check_choice(con, "parity", parities, err, errlen) || check_choice(con, "flow", flows, err, errlen))
    return -1;
  return 0;
}

/* transport "tcp" or "telnet" */
static int check_tcp(cJSON *con, int telnet, char *err, size_t errlen) {
  cJSON *host = cJSON_GetObjectItemCaseSensitive(con, "host");
  if (!host) return fail(err, errlen, "console.host is missing (the console server, e.g. \"127.0.0.1\")");
  if (!cJSON_IsString(host) || !*host->valuestring)
    return fail(err, errlen, "console.host must be a host name or address");
  if (!cJSON_GetObjectItemCaseSensitive(con, "tcp_port"))
    return fail(err, errlen, "console.tcp_port is missing (the console server's port)");
  if (check_int(con, "tcp_port", 1, 65535, 0, err, errlen)) return -1;
  /* no default: without baud a telnet console leaves the rate to the server */
  if (telnet && cJSON_GetObjectItemCaseSensitive(con, "baud") &&
      check_int(con, "baud", 50, 4000000, 0, err, errlen))
    return -1;
  return 0;
}

/* What every transport takes: retry, the flood guard, death patterns. */
static int check_common(cJSON *con, char *err, size_t errlen) {
  cJSON *retry = cJSON_GetObjectItemCaseSensitive(con, "retry");
  if (retry && (!cJSON_IsNumber(retry) || retry->valuedouble <= 0 || retry->valuedouble > 60))
    return fail(err, errlen, "console.retry must be a number of seconds above 0 and at most 60");
  /* the flood guard: at most cap_bytes captured at once, refilled at cap_rate bytes/s */
  static const char *const caps[] = {"cap_bytes", "cap_rate", NULL};
  for (int i = 0; caps[i]; i++) {
    cJSON *c = cJSON_GetObjectItemCaseSensitive(con, caps[i]);
    if (c && (!cJSON_IsNumber(c) || !(c->valuedouble >= 1) || c->valuedouble > 1e12))
      return fail(err, errlen, "console.%s must be a number of bytes%s from 1 to 1e12", caps[i],
                  i ? " per second" : "");
  }
  cJSON *death = cJSON_GetObjectItemCaseSensitive(con, "death");
  if (death && check_death(death, err, errlen) != 0) return -1;
  return 0;
}

int lab_console_check(cJSON *spec, char *err, size_t errlen) {
  cJSON *con;
  const char *t;
  if (console_table(spec, &con, err, errlen) || check_transport(con, &t, err, errlen) ||
      check_foreign_keys(con, t, err, errlen))
    return -1;
  int telnet = strcmp(t, "telnet") == 0;
  if (strcmp(t, "serial") == 0 && check_serial(con, err, errlen)) return -1;
  if ((strcmp(t, "tcp") == 0 || telnet) && check_tcp(con, telnet, err, errlen)) return -1;
  return check_common(con, err, errlen);
}

static const char *str(const cJSON *con, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(con, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int num(const cJSON *con, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(con, key);
  return cJSON_IsNumber(v) ? (int)v->valuedouble : 0;
}

void lab_console_config(const cJSON *spec, console_config *out) {
  const cJSON *con = cJSON_GetObjectItemCaseSensitive(spec, "console");
  memset(out, 0, sizeof *out);
  const char *t = str(con, "transport");
  out->transport = !t                          ? CONSOLE_PTY
                 : strcmp(t, "serial") == 0    ? CONSOLE_SERIAL
                 : strcmp(t, "tcp") == 0       ? CONSOLE_TCP
                 : strcmp(t, "telnet") == 0    ? CONSOLE_TELNET
                                               : CONSOLE_PTY;
  out->port = str(con, "port");
  out->baud = num(con, "baud");
  const char *par = str(con, "parity");
  out->parity = par ? par[0] : 'n'; /* none, odd, even, mark, space: first letters differ */
  out->data_bits = num(con, "data_bits");
  out->stop_bits = num(con, "stop_bits");
  out->flow = str(con, "flow");
  out->host = str(con, "host");
  out->tcp_port = num(con, "tcp_port");
  const cJSON *retry = cJSON_GetObjectItemCaseSensitive(con, "retry");
  out->retry_s = cJSON_IsNumber(retry) ? retry->valuedouble : 0;
  const cJSON *cb = cJSON_GetObjectItemCaseSensitive(con, "cap_bytes");
  const cJSON *cr = cJSON_GetObjectItemCaseSensitive(con, "cap_rate");
  out->cap_bytes = cJSON_IsNumber(cb) ? (size_t)cb->valuedouble : 0; /* 0, 0: the defaults */
  out->cap_rate = cJSON_IsNumber(cr) ? cr->valuedouble : 0;
}

const cJSON *lab_console_death(const cJSON *spec) {
  const cJSON *con = cJSON_GetObjectItemCaseSensitive(spec, "console");
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(con, "death");
  return cJSON_IsArray(d) && cJSON_GetArraySize(d) > 0 ? d : NULL;
}
