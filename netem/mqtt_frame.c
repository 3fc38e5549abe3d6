/* mqtt_frame: MQTT packet framing across any chunk boundaries (see mqtt_frame.h). */
#include "mqtt_frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIAS_MAX 1024 /* topic aliases we remember; larger aliases are an error */

struct mqtt_frame {
  size_t max_packet;
  int version;
  int failed;
  uint64_t off;        /* stream offset of the next byte fed */
  uint8_t *buf;        /* the packet being assembled */
  size_t len, cap;
  size_t need;         /* total packet length once the fixed header is known, else 0 */
  char *topic;         /* copy of the last PUBLISH topic */
  size_t topic_cap;
  char **alias;        /* v5 topic aliases, index 1..ALIAS_MAX */
  uint8_t *pend_data;  /* after a failure: bytes held, for the caller */
  size_t pend_len;
  char error[160];
};

mqtt_frame *mqtt_frame_new(size_t max_packet) {
  mqtt_frame *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  f->max_packet = max_packet ? max_packet : 16u << 20;
  f->version = 4;
  return f;
}

void mqtt_frame_free(mqtt_frame *f) {
  if (!f) return;
  if (f->alias) {
    for (size_t i = 0; i <= ALIAS_MAX; i++) free(f->alias[i]);
    free(f->alias);
  }
  free(f->topic);
  free(f->buf);
  free(f);
}

void mqtt_frame_set_version(mqtt_frame *f, int level) { f->version = level; }
int mqtt_frame_version(const mqtt_frame *f) { return f->version; }
const char *mqtt_frame_error(const mqtt_frame *f) { return f->error; }
size_t mqtt_frame_pending(const mqtt_frame *f) { return f->len; }

static int fail(mqtt_frame *f, uint64_t at, const char *what) {
  if (f->len) {
    f->pend_data = f->buf; /* held bytes of a packet never returned */
    f->pend_len = f->len;
    f->len = 0;
  }
  snprintf(f->error, sizeof f->error, "mqtt packet at stream byte %llu: %s", (unsigned long long)at, what);
  f->failed = 1;
  return -1;
}

static int reserve(mqtt_frame *f, size_t n) {
  if (n <= f->cap) return 0;
  size_t cap = f->cap ? f->cap : 256;
  while (cap < n) cap *= 2;
  uint8_t *b = realloc(f->buf, cap);
  if (!b) return -1;
  f->buf = b;
  f->cap = cap;
  return 0;
}

/* Variable byte integer at p (avail bytes). Returns bytes used, 0 if incomplete, -1 if
 * longer than 4 bytes. */
static int varint(const uint8_t *p, size_t avail, uint32_t *out) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    if ((size_t)i >= avail) return 0;
    v |= (uint32_t)(p[i] & 0x7f) << (7 * i);
    if (!(p[i] & 0x80)) {
      *out = v;
      return i + 1;
    }
  }
  return -1;
}

static int set_topic(mqtt_frame *f, const char *s, size_t n) {
  if (n + 1 > f->topic_cap) {
    char *t = realloc(f->topic, n + 1);
    if (!t) return -1;
    f->topic = t;
    f->topic_cap = n + 1;
  }
  memcpy(f->topic, s, n);
  f->topic[n] = 0;
  return 0;
}

/* Size of a v5 property value by identifier, -1 unknown; -2 means varint, -3 string,
 * -4 string pair. */
static int prop_size(uint8_t id) {
  switch (id) {
  case 0x01: case 0x17: case 0x19: case 0x24: case 0x25: case 0x28: case 0x29: case 0x2A: return 1;
  case 0x13: case 0x21: case 0x22: case 0x23: return 2;
  case 0x02: case 0x11: case 0x18: case 0x27: return 4;
  case 0x0B: return -2;
  case 0x03: case 0x08: case 0x09: case 0x12: case 0x15: case 0x16: case 0x1A: case 0x1C: case 0x1F: return -3;
  case 0x26: return -4;
  default: return -5;
  }
}

static int parse_publish(mqtt_frame *f, struct mqtt_packet *pkt) {
  const uint8_t *p = pkt->data + pkt->hdr_len, *end = pkt->data + pkt->len;
  pkt->qos = (pkt->flags >> 1) & 3;
  pkt->retain = pkt->flags & 1;
  pkt->dup = (pkt->flags >> 3) & 1;
  if (pkt->qos == 3) return fail(f, pkt->off, "PUBLISH with QoS 3");
  if (end - p < 2) return fail(f, pkt->off, "PUBLISH too short for a topic length");
  size_t tl = (size_t)p[0] << 8 | p[1];
  p += 2;
  if ((size_t)(end - p) < tl) return fail(f, pkt->off, "PUBLISH topic length beyond the packet");
  const char *topic = (const char *)p;
  if (memchr(topic, 0, tl)) return fail(f, pkt->off, "PUBLISH topic contains NUL");
  p += tl;
  if (pkt->qos > 0) {
    if (end - p < 2) return fail(f, pkt->off, "PUBLISH too short for a packet id");
    pkt->packet_id = (uint16_t)(p[0] << 8 | p[1]);
    p += 2;
  }
  uint32_t alias = 0;
  if (f->version >= 5) {
    uint32_t plen;
    int n = varint(p, (size_t)(end - p), &plen);
    if (n <= 0) return fail(f, pkt->off, "PUBLISH bad property length");
    p += n;
    if ((size_t)(end - p) < plen) return fail(f, pkt->off, "PUBLISH properties beyond the packet");
    const uint8_t *q = p, *qend = p + plen;
    while (q < qend) {
      uint8_t id = *q++;
      int sz = prop_size(id);
      size_t skip;
      uint32_t dummy;
      if (sz > 0) {
        skip = (size_t)sz;
      } else if (sz == -2) {
        int m = varint(q, (size_t)(qend - q), &dummy);
        if (m <= 0) return fail(f, pkt->off, "PUBLISH bad varint property");
        skip = (size_t)m;
      } else if (sz == -3 || sz == -4) {
        skip = 0;
        for (int k = 0; k < (sz == -4 ? 2 : 1); k++) {
          if ((size_t)(qend - q) < skip + 2) return fail(f, pkt->off, "PUBLISH property beyond the properties");
          skip += 2 + ((size_t)q[skip] << 8 | q[skip + 1]);
        }
      } else {
        return fail(f, pkt->off, "PUBLISH unknown property");
      }
      if ((size_t)(qend - q) < skip) return fail(f, pkt->off, "PUBLISH property beyond the properties");
      if (id == 0x23) alias = (uint32_t)(q[0] << 8 | q[1]);
      q += skip;
    }
    p = qend;
  }
  pkt->payload_off = (size_t)(p - pkt->data);
  if (alias) {
    if (alias > ALIAS_MAX) return fail(f, pkt->off, "PUBLISH topic alias above 1024 (not tracked)");
    if (!f->alias && !(f->alias = calloc(ALIAS_MAX + 1, sizeof *f->alias)))
      return fail(f, pkt->off, "out of memory");
    if (tl > 0) {
      char *t = malloc(tl + 1);
      if (!t) return fail(f, pkt->off, "out of memory");
      memcpy(t, topic, tl);
      t[tl] = 0;
      free(f->alias[alias]);
      f->alias[alias] = t;
    } else {
      if (!f->alias[alias]) return fail(f, pkt->off, "PUBLISH uses an unknown topic alias");
      topic = f->alias[alias];
      tl = strlen(topic);
    }
  } else if (tl == 0) {
    return fail(f, pkt->off, "PUBLISH with an empty topic and no alias");
  }
  if (set_topic(f, topic, tl)) return fail(f, pkt->off, "out of memory");
  pkt->topic = f->topic;
  pkt->topic_len = tl;
  return 0;
}

static int parse_connect(mqtt_frame *f, struct mqtt_packet *pkt) {
  const uint8_t *p = pkt->data + pkt->hdr_len, *end = pkt->data + pkt->len;
  if (end - p < 2) return fail(f, pkt->off, "CONNECT too short");
  size_t nl = (size_t)p[0] << 8 | p[1];
  p += 2;
  if ((size_t)(end - p) < nl + 1) return fail(f, pkt->off, "CONNECT protocol name beyond the packet");
  if (!((nl == 4 && memcmp(p, "MQTT", 4) == 0) || (nl == 6 && memcmp(p, "MQIsdp", 6) == 0)))
    return fail(f, pkt->off, "CONNECT with an unknown protocol name");
  p += nl;
  pkt->protocol_level = *p;
  if (*p < 3 || *p > 5) return fail(f, pkt->off, "CONNECT with an unknown protocol level");
  f->version = *p;
  return 0;
}

static int check_flags(mqtt_frame *f, struct mqtt_packet *pkt) {
  switch (pkt->type) {
  case 0: return fail(f, pkt->off, "reserved packet type 0");
  case MQTT_PUBLISH: return 0;
  case 6: case 8: case 10: /* PUBREL, SUBSCRIBE, UNSUBSCRIBE */
    if (pkt->flags != 2) return fail(f, pkt->off, "bad fixed-header flags");
    return 0;
  case 15: /* AUTH exists in 5 only */
    if (f->version < 5) return fail(f, pkt->off, "AUTH packet before MQTT 5");
    /* fall through */
  default:
    if (pkt->flags != 0) return fail(f, pkt->off, "bad fixed-header flags");
    return 0;
  }
}

static int give_pending(mqtt_frame *f, struct mqtt_packet *pkt) {
  pkt->data = f->pend_data;
  pkt->len = f->pend_len;
  pkt->off = f->off - f->pend_len;
  f->pend_data = NULL;
  f->pend_len = 0;
  return -1;
}

int mqtt_frame_feed(mqtt_frame *f, const uint8_t *data, size_t len, size_t *consumed,
                    struct mqtt_packet *pkt) {
  size_t used = 0;
  *consumed = 0;
  memset(pkt, 0, sizeof *pkt);
  if (f->failed) return -1;
  while (used < len) {
    if (f->need == 0) {
      /* Fixed header: one byte, then up to 4 bytes of remaining length. Take one byte at a
         time so that we never read past the header before knowing the packet length. */
      if (reserve(f, 5)) {
        *consumed = used;
        fail(f, f->off, "out of memory");
        return give_pending(f, pkt);
      }
      f->buf[f->len++] = data[used++];
      f->off++;
      if (f->len == 1) continue;
      uint32_t rl;
      int n = varint(f->buf + 1, f->len - 1, &rl);
      if (n < 0) {
        *consumed = used;
        fail(f, f->off - f->len, "remaining length longer than 4 bytes");
        return give_pending(f, pkt);
      }
      if (n == 0) continue;
      size_t total = 1 + (size_t)n + rl;
      if (total > f->max_packet) {
        *consumed = used;
        fail(f, f->off - f->len, "packet larger than the limit");
        return give_pending(f, pkt);
      }
      if (reserve(f, total)) {
        *consumed = used;
        fail(f, f->off - f->len, "out of memory");
        return give_pending(f, pkt);
      }
      f->need = total;
    } else {
      size_t take = f->need - f->len;
      if (take > len - used) take = len - used;
      memcpy(f->buf + f->len, data + used, take);
      f->len += take;
      used += take;
      f->off += take;
    }
    if (f->need && f->len == f->need) {
      memset(pkt, 0, sizeof *pkt);
      pkt->data = f->buf;
      pkt->len = f->len;
      pkt->type = f->buf[0] >> 4;
      pkt->flags = f->buf[0] & 0x0f;
      pkt->hdr_len = f->len == 1 ? 1 : 0;
      for (size_t i = 1; i < 5 && i < f->len; i++)
        if (!(f->buf[i] & 0x80)) {
          pkt->hdr_len = i + 1;
          break;
        }
      pkt->off = f->off - f->len;
      f->len = 0;
      f->need = 0;
      *consumed = used;
      if (check_flags(f, pkt)) return -1;
      if (pkt->type == MQTT_PUBLISH && parse_publish(f, pkt)) return -1;
      if (pkt->type == MQTT_CONNECT && parse_connect(f, pkt)) return -1;
      return 1;
    }
  }
  *consumed = used;
  return 0;
}

int mqtt_frame_eof(mqtt_frame *f, struct mqtt_packet *pkt) {
  memset(pkt, 0, sizeof *pkt);
  if (f->failed || f->len == 0) return 0;
  fail(f, f->off - f->len, "stream ended inside a packet (truncated frame)");
  return give_pending(f, pkt);
}

int mqtt_topic_match(const char *filter, const char *topic, size_t tl) {
  const char *t = topic, *tend = topic + tl, *fp = filter;
  if ((*fp == '+' || *fp == '#') && tl > 0 && topic[0] == '$') return 0;
  for (;;) {
    const char *fseg_end = strchr(fp, '/');
    size_t fl = fseg_end ? (size_t)(fseg_end - fp) : strlen(fp);
    if (fl == 1 && fp[0] == '#') return 1; /* matches the parent level too ("a/#" ~ "a") */
    const char *tseg_end = memchr(t, '/', (size_t)(tend - t));
    size_t sl = tseg_end ? (size_t)(tseg_end - t) : (size_t)(tend - t);
    if (t > tend) {
      return 0;
    }
    if (!(fl == 1 && fp[0] == '+') && (fl != sl || memcmp(fp, t, fl) != 0)) return 0;
    if (!fseg_end && !tseg_end) return 1;
    if (!fseg_end) return 0;  /* filter ended, topic goes on */
    if (!tseg_end) {          /* topic ended, filter goes on: only "/#" may follow */
      return strcmp(fseg_end, "/#") == 0;
    }
    fp = fseg_end + 1;
    t = tseg_end + 1;
  }
}

int mqtt_subscribe_filters(const struct mqtt_packet *pkt, int level, char *out, size_t outlen) {
  if (outlen == 0) return -1;
  out[0] = 0;
  if (pkt->type != MQTT_SUBSCRIBE || pkt->len < pkt->hdr_len + 2) return -1;
  const uint8_t *p = pkt->data + pkt->hdr_len + 2, *end = pkt->data + pkt->len; /* after the packet id */
  if (level >= 5) { /* properties: a length, then that many bytes */
    uint32_t plen;
    int n = varint(p, (size_t)(end - p), &plen);
    if (n <= 0 || plen > (size_t)(end - p - n)) return -1;
    p += n + plen;
  }
  int count = 0;
  size_t used = 0;
  while (end - p >= 3) {
    size_t tl = (size_t)p[0] << 8 | p[1];
    if (tl + 3 > (size_t)(end - p)) return -1;
    if (used + tl + 2 <= outlen) { /* filters that do not fit are counted, not copied */
      if (used) out[used++] = ' ';
      memcpy(out + used, p + 2, tl);
      used += tl;
      out[used] = 0;
    }
    p += 2 + tl + 1; /* the filter, then its options byte */
    count++;
  }
  return p == end ? count : -1;
}
