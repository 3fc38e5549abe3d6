/* fault_parse: the SPEC text form of a fault, its defaults and checks. */
#include "netem_fault.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "appendf.h"

static const struct {
  enum netem_fault_kind kind;
  const char *name;
} kinds[] = {
    {NETEM_FAULT_CUT, "cut"},
    {NETEM_FAULT_STALL, "stall"},
    {NETEM_FAULT_THROTTLE, "throttle"},
    {NETEM_FAULT_LATENCY, "latency"},
    {NETEM_FAULT_FLAP, "flap"},
    {NETEM_FAULT_CORRUPT, "corrupt"},
    {NETEM_FAULT_MQTT_DROP, "mqtt-drop"},
    {NETEM_FAULT_MQTT_DELAY, "mqtt-delay"},
    {NETEM_FAULT_MQTT_DUP, "mqtt-dup"},
    {NETEM_FAULT_MQTT_CORRUPT, "mqtt-corrupt"},
    {NETEM_FAULT_MQTT_CUT, "mqtt-cut"},
};

const char *netem_fault_kind_name(enum netem_fault_kind kind) {
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (kinds[i].kind == kind) return kinds[i].name;
  return "?";
}

int netem_fault_kind_from_name(const char *name, enum netem_fault_kind *kind) {
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp(kinds[i].name, name) == 0) {
      *kind = kinds[i].kind;
      return 0;
    }
  return UV_EINVAL;
}

/* RFC 8446 section 6 (and the TLS 1.2 ones OpenSSL still sends, RFC 5246 7.2). */
static const struct {
  int code;
  const char *name;
} alerts[] = {
    {10, "unexpected_message"}, {20, "bad_record_mac"}, {22, "record_overflow"},
    {40, "handshake_failure"}, {42, "bad_certificate"}, {43, "unsupported_certificate"},
    {44, "certificate_revoked"}, {45, "certificate_expired"}, {46, "certificate_unknown"},
    {47, "illegal_parameter"}, {48, "unknown_ca"}, {49, "access_denied"}, {50, "decode_error"},
    {51, "decrypt_error"}, {70, "protocol_version"}, {71, "insufficient_security"},
    {80, "internal_error"}, {86, "inappropriate_fallback"}, {90, "user_canceled"},
    {109, "missing_extension"}, {110, "unsupported_extension"}, {112, "unrecognized_name"},
    {116, "certificate_required"}, {120, "no_application_protocol"},
};

int netem_tls_alert_from_name(const char *name) {
  for (size_t i = 0; name && i < sizeof alerts / sizeof alerts[0]; i++)
    if (strcmp(alerts[i].name, name) == 0) return alerts[i].code;
  return -1;
}

const char *netem_tls_alert_name(int code) {
  for (size_t i = 0; i < sizeof alerts / sizeof alerts[0]; i++)
    if (alerts[i].code == code) return alerts[i].name;
  return NULL;
}

static int is_mqtt(enum netem_fault_kind k) { return k >= NETEM_FAULT_MQTT_DROP; }

void netem_fault_init(struct netem_fault *f, enum netem_fault_kind kind) {
  memset(f, 0, sizeof *f);
  f->kind = kind;
}

enum netem_dir netem_fault_dir(const struct netem_fault *f) {
  if (f->dir != NETEM_DIR_DEFAULT) return f->dir;
  return is_mqtt(f->kind) ? NETEM_DIR_BOTH : NETEM_DIR_DOWN;
}

uint32_t netem_fault_times(const struct netem_fault *f) {
  if (f->times_set) return f->times;
  switch (f->kind) {
  case NETEM_FAULT_CUT:
  case NETEM_FAULT_STALL:
  case NETEM_FAULT_CORRUPT:
  case NETEM_FAULT_MQTT_CUT: return 1;
  default: return 0;
  }
}

static int fail(char *err, size_t errlen, const char *fmt, const char *a, const char *b) {
  if (err && errlen) snprintf(err, errlen, fmt, a, b);
  return UV_EINVAL;
}

/* Number with an optional K/M/G suffix (1024-based), an optional "B"/"iB" and, when
 * rate is set, an optional "/s". */
static int parse_size(const char *s, int rate, uint64_t *out) {
  char *end;
  errno = 0;
  if (!isdigit((unsigned char)*s)) return -1;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || end == s) return -1;
  uint64_t mul = 1;
  switch (*end) {
  case 'k': case 'K': mul = 1024; end++; break;
  case 'm': case 'M': mul = 1024 * 1024; end++; break;
  case 'g': case 'G': mul = 1024ull * 1024 * 1024; end++; break;
  default: break;
  }
  if (mul > 1 && *end == 'i') end++;
  if (*end == 'B' || *end == 'b') end++;
  if (rate && strcmp(end, "/s") == 0) end += 2;
  if (*end) return -1;
  if (v > UINT64_MAX / mul) return -1;
  *out = v * mul;
  return 0;
}

/* Milliseconds: plain number, or with "ms" or "s". */
static int parse_ms(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  if (!isdigit((unsigned char)*s)) return -1;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s) return -1;
  if (strcmp(end, "s") == 0) {
    if (v > UINT64_MAX / 1000) return -1;
    v *= 1000;
  } else if (*end && strcmp(end, "ms") != 0) {
    return -1;
  }
  *out = v;
  return 0;
}

static int parse_u32(const char *s, uint32_t *out) {
  uint64_t v;
  if (parse_size(s, 0, &v) || v > UINT32_MAX) return -1;
  *out = (uint32_t)v;
  return 0;
}

static int add_offset(struct netem_fault *f, const char *val) {
  uint64_t v;
  if (parse_size(val, 0, &v)) return -1;
  if (f->n_offsets >= NETEM_MAX_OFFSETS) return -2;
  f->offsets[f->n_offsets++] = v;
  return 0;
}

static int apply_key(struct netem_fault *f, const char *key, const char *val, int *list_key,
                     char *err, size_t errlen) {
  int corrupt = f->kind == NETEM_FAULT_CORRUPT || f->kind == NETEM_FAULT_MQTT_CORRUPT;
  *list_key = 0;
#define BAD() return fail(err, errlen, "netem fault: bad value for %s: '%s'", key, val ? val : "")
#define NEED() \
  do { if (!val) return fail(err, errlen, "netem fault: %s needs a value%s", key, ""); } while (0)
  if (strcmp(key, "dir") == 0) {
    NEED();
    if (strcmp(val, "up") == 0) f->dir = NETEM_DIR_UP;
    else if (strcmp(val, "down") == 0) f->dir = NETEM_DIR_DOWN;
    else if (strcmp(val, "both") == 0) f->dir = NETEM_DIR_BOTH;
    else BAD();
  } else if (strcmp(key, "times") == 0 || strcmp(key, "count") == 0) {
    NEED();
    if (parse_u32(val, &f->times)) BAD();
    f->times_set = 1;
  } else if (!val && strcmp(key, "every") == 0) {
    f->times = 0;
    f->times_set = 1;
  } else if (!val && strcmp(key, "once") == 0) {
    f->times = 1;
    f->times_set = 1;
  } else if (!val && strcmp(key, "rst") == 0) {
    f->rst = 1;
  } else if (!val && strcmp(key, "fin") == 0) {
    f->rst = 0;
  } else if (!val && strcmp(key, "body") == 0 && corrupt) {
    f->unit = NETEM_UNIT_BODY;
  } else if (corrupt && (strcmp(key, "bytes") == 0 || strcmp(key, "body") == 0 ||
                         strcmp(key, "at") == 0)) {
    NEED();
    if (strcmp(key, "body") == 0) f->unit = NETEM_UNIT_BODY;
    int rc = add_offset(f, val);
    if (rc == -2) return fail(err, errlen, "netem fault: more than 64 offsets in %s%s", key, "");
    if (rc) BAD();
    *list_key = 1;
  } else if (strcmp(key, "bytes") == 0 || strcmp(key, "after") == 0 || strcmp(key, "body") == 0 ||
             strcmp(key, "after_body") == 0) {
    NEED();
    if (parse_size(val, 0, &f->at)) BAD();
    f->has_at = 1;
    f->unit = (strcmp(key, "body") == 0 || strcmp(key, "after_body") == 0) ? NETEM_UNIT_BODY
                                                                            : NETEM_UNIT_BYTES;
  } else if (strcmp(key, "ms") == 0 || strcmp(key, "for") == 0) {
    NEED();
    if (parse_ms(val, &f->ms)) BAD();
  } else if (strcmp(key, "jitter") == 0) {
    NEED();
    if (parse_ms(val, &f->jitter_ms)) BAD();
  } else if (strcmp(key, "rate") == 0) {
    NEED();
    if (parse_size(val, 1, &f->rate)) BAD();
  } else if (strcmp(key, "every") == 0) {
    NEED();
    if (parse_size(val, 0, &f->every)) BAD();
  } else if (strcmp(key, "random") == 0) {
    NEED();
    if (parse_u32(val, &f->random)) BAD();
  } else if (strcmp(key, "within") == 0) {
    NEED();
    if (parse_size(val, 0, &f->within)) BAD();
  } else if (strcmp(key, "xor") == 0) {
    NEED();
    uint64_t v;
    if (parse_size(val, 0, &v) || v == 0 || v > 255) BAD();
    f->xor_mask = (int)v;
  } else if (strcmp(key, "topic") == 0) {
    NEED();
    size_t n = strlen(val);
    if (n == 0 || n >= sizeof f->topic) BAD();
    memcpy(f->topic, val, n + 1);
  } else if (strcmp(key, "alert") == 0) {
    f->has_alert = 1;
    f->alert = netem_tls_alert_from_name(val ? val : "internal_error");
    if (f->alert < 0) BAD();
  } else if (strcmp(key, "nth") == 0) {
    NEED();
    if (parse_u32(val, &f->nth)) BAD();
  } else {
    return fail(err, errlen, "netem fault %s: unknown key '%s'", netem_fault_kind_name(f->kind), key);
  }
#undef BAD
#undef NEED
  return 0;
}

int netem_fault_parse(const char *spec, struct netem_fault *f, char *err, size_t errlen) {
  if (!spec || !f) return fail(err, errlen, "netem fault: no spec%s%s", "", "");
  char buf[1024];
  size_t n = strlen(spec);
  if (n >= sizeof buf) return fail(err, errlen, "netem fault: spec too long%s%s", "", "");
  memcpy(buf, spec, n + 1);
  char *colon = strchr(buf, ':');
  if (colon) *colon = 0;
  enum netem_fault_kind kind;
  if (netem_fault_kind_from_name(buf, &kind))
    return fail(err, errlen, "netem fault '%s': unknown kind '%s' (see --help)", spec, buf);
  netem_fault_init(f, kind);
  int list_key = 0;
  char *p = colon ? colon + 1 : NULL;
  while (p && *p) {
    char *comma = strchr(p, ',');
    if (comma) *comma = 0;
    char *eq = strchr(p, '=');
    if (*p == 0) return fail(err, errlen, "netem fault '%s': empty item%s", spec, "");
    if (!eq && list_key && isdigit((unsigned char)*p)) {
      /* "corrupt:body=1000,2000": a bare number continues the offset list */
      int rc = add_offset(f, p);
      if (rc) return fail(err, errlen, "netem fault '%s': bad offset '%s'", spec, p);
    } else {
      if (eq) *eq = 0;
      int rc = apply_key(f, p, eq ? eq + 1 : NULL, &list_key, err, errlen);
      if (rc) return rc;
    }
    p = comma ? comma + 1 : NULL;
  }
  return netem_fault_check(f, err, errlen);
}

int netem_fault_check(const struct netem_fault *f, char *err, size_t errlen) {
  const char *k = netem_fault_kind_name(f->kind);
  if (strcmp(k, "?") == 0) return fail(err, errlen, "netem fault: unknown kind%s%s", "", "");
  if (f->dir < NETEM_DIR_DEFAULT || f->dir > NETEM_DIR_BOTH)
    return fail(err, errlen, "netem fault %s: bad dir%s", k, "");
  if (f->n_offsets > NETEM_MAX_OFFSETS) return fail(err, errlen, "netem fault %s: too many offsets%s", k, "");
  switch (f->kind) {
  case NETEM_FAULT_CUT:
    if (!f->has_at && f->ms == 0) return fail(err, errlen, "netem fault %s: needs bytes=, body= or ms=%s", k, "");
    break;
  case NETEM_FAULT_THROTTLE:
    if (f->rate == 0) return fail(err, errlen, "netem fault %s: needs rate= (bytes/s, > 0)%s", k, "");
    break;
  case NETEM_FAULT_LATENCY:
    if (f->ms == 0 && f->jitter_ms == 0) return fail(err, errlen, "netem fault %s: needs ms=%s", k, "");
    if (f->jitter_ms > f->ms) return fail(err, errlen, "netem fault %s: jitter must not exceed ms%s", k, "");
    break;
  case NETEM_FAULT_FLAP:
    if (f->every == 0) return fail(err, errlen, "netem fault %s: needs every= (bytes, > 0)%s", k, "");
    break;
  case NETEM_FAULT_CORRUPT:
    if ((f->n_offsets == 0) == (f->random == 0))
      return fail(err, errlen, "netem fault %s: needs offsets (bytes=/body=) or random=N, not both%s", k, "");
    break;
  case NETEM_FAULT_MQTT_CUT:
    if (f->nth == 0) return fail(err, errlen, "netem fault %s: needs nth= (>= 1)%s", k, "");
    /* fall through */
  case NETEM_FAULT_MQTT_DROP:
  case NETEM_FAULT_MQTT_DUP:
  case NETEM_FAULT_MQTT_CORRUPT:
  case NETEM_FAULT_MQTT_DELAY:
    if (f->topic[0] == 0 || memchr(f->topic, 0, sizeof f->topic) == NULL)
      return fail(err, errlen, "netem fault %s: needs topic=%s", k, "");
    if (f->kind == NETEM_FAULT_MQTT_DELAY && f->ms == 0)
      return fail(err, errlen, "netem fault %s: needs ms=%s", k, "");
    if (f->kind == NETEM_FAULT_MQTT_CORRUPT && f->n_offsets && f->random)
      return fail(err, errlen, "netem fault %s: at= and random= exclude each other%s", k, "");
    break;
  default: break;
  }
  if (f->has_alert && (f->kind != NETEM_FAULT_CUT || !netem_tls_alert_name(f->alert)))
    return fail(err, errlen, "netem fault %s: alert= only for cut, with a known alert name%s", k, "");
  if (f->unit == NETEM_UNIT_BODY && f->kind != NETEM_FAULT_CUT && f->kind != NETEM_FAULT_STALL &&
      f->kind != NETEM_FAULT_CORRUPT)
    return fail(err, errlen, "netem fault %s: body offsets only for cut, stall, corrupt%s", k, "");
  return 0;
}

char *netem_fault_describe(const struct netem_fault *f, char *buf, size_t size) {
  size_t n = 0;
#define PUT(...) netem_appendf(buf, size, &n, __VA_ARGS__)
  if (size == 0) return buf;
  buf[0] = 0;
  PUT("%s:", netem_fault_kind_name(f->kind));
  enum netem_dir d = netem_fault_dir(f);
  PUT("dir=%s", d == NETEM_DIR_UP ? "up" : d == NETEM_DIR_DOWN ? "down" : "both");
  const char *unit = f->unit == NETEM_UNIT_BODY ? "body" : "bytes";
  if (f->has_at) PUT(",%s=%llu", unit, (unsigned long long)f->at);
  if (f->ms) PUT(",ms=%llu", (unsigned long long)f->ms);
  if (f->jitter_ms) PUT(",jitter=%llu", (unsigned long long)f->jitter_ms);
  if (f->rate) PUT(",rate=%llu", (unsigned long long)f->rate);
  if (f->every) PUT(",every=%llu", (unsigned long long)f->every);
  for (size_t i = 0; i < f->n_offsets && i < NETEM_MAX_OFFSETS; i++)
    PUT("%s%llu", i == 0 ? (f->kind == NETEM_FAULT_MQTT_CORRUPT ? ",at=" : f->unit == NETEM_UNIT_BODY ? ",body=" : ",bytes=") : ",",
        (unsigned long long)f->offsets[i]);
  if (f->random) PUT(",random=%u%s", f->random, f->unit == NETEM_UNIT_BODY && f->kind == NETEM_FAULT_CORRUPT ? ",body" : "");
  if (f->within) PUT(",within=%llu", (unsigned long long)f->within);
  if (f->xor_mask) PUT(",xor=0x%02x", (unsigned)f->xor_mask);
  if (f->topic[0]) PUT(",topic=%.*s", (int)sizeof f->topic, f->topic);
  if (f->nth) PUT(",nth=%u", f->nth);
  if (f->has_alert) PUT(",alert=%s", netem_tls_alert_name(f->alert));
  if (f->rst) PUT(",rst");
  PUT(",times=%u", netem_fault_times(f));
#undef PUT
  return buf;
}

const char *netem_fault_help(void) {
  return
      "Fault SPEC: KIND[:key=value,...]\n"
      "  Sizes take K, M, G (x1024) and an optional B; rates also /s (20KB/s); durations are ms\n"
      "  (or with an 's' suffix). Offsets are 0-based; 'body' offsets count HTTP body bytes of one\n"
      "  response (--http), restarting at 0 for each response on a keep-alive connection.\n"
      "Keys every fault takes:\n"
      "  dir=down|up|both   down = upstream->client (default), up = client->upstream;\n"
      "                     mqtt-* faults default to both\n"
      "  times=N (count=N)  how many connections/responses/packets it acts on, 0 = all;\n"
      "                     'once' = times=1, 'every' = times=0. Default 1 for cut, stall, corrupt,\n"
      "                     mqtt-cut; all for the others\n"
      "Kinds:\n"
      "  cut:bytes=N | cut:body=N | cut:ms=T  [,rst]\n"
      "      close (FIN) or reset (RST) the connection so the client receives exactly N bytes of\n"
      "      the stream / N body bytes; or T ms after the fault is added (every open connection).\n"
      "      Both sides are closed. after=/after_body= are synonyms of bytes=/body=.\n"
      "      alert[=NAME] (with --tls-cert): first send the client a fatal TLS alert, NAME as in\n"
      "      RFC 8446 (internal_error, the default; bad_record_mac, decode_error, ...)\n"
      "  stall[:bytes=N | :body=N][,ms=T]\n"
      "      stop forwarding at that offset (default: at once, all connections) and keep the\n"
      "      connection open, for T ms (default: until the fault is removed or cleared).\n"
      "  throttle:rate=R           at most R bytes/s per connection, e.g. rate=20KB/s\n"
      "  latency:ms=T[,jitter=J]   delay every chunk by T ms +- J ms (order is kept)\n"
      "  flap:every=K[,rst]        a weak link: cut the connection that carries the next K bytes\n"
      "                            (counted over all connections of the proxy)\n"
      "  corrupt:bytes=O1,O2,... | corrupt:body=O1,O2,... | corrupt:random=N[,body][,within=W]\n"
      "      [,xor=X]  change the bytes at those offsets (headers are never touched with body=);\n"
      "      random=N picks N offsets in [0,W) from the seed (W defaults to the Content-Length,\n"
      "      else 64K). Each byte is XORed with X, or with a non-zero value from the seed.\n"
      "  mqtt-drop:topic=F[,count=N]      drop PUBLISH packets whose topic matches F (+ and #)\n"
      "  mqtt-delay:topic=F,ms=T[,count=N] hold matching PUBLISH packets T ms (others pass)\n"
      "  mqtt-dup:topic=F[,count=N]       send matching PUBLISH packets twice (DUP set if QoS>0)\n"
      "  mqtt-corrupt:topic=F[,random=N | ,at=O1,O2...][,count=N]\n"
      "      change N random payload bytes (default 1) or the payload bytes at those offsets\n"
      "  mqtt-cut:topic=F,nth=N[,rst]     close the connection right after forwarding the Nth\n"
      "                                   matching PUBLISH\n"
      "Examples: cut:body=40000   corrupt:body=1000,2000   throttle:rate=20KB/s\n"
      "          stall:after_body=4096   flap:every=65536   latency:ms=50,jitter=10\n"
      "          mqtt-drop:topic=$ota/update/+/+,count=1\n";
}
