/* Unit tests of the protocol views: the same stream fed in one piece, byte by byte and in
 * random splits gives the same segments, packets and offsets; malformed input is an
 * error, never a crash. Also topic filters and the fault SPEC parser. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http_view.h"
#include "mqtt_frame.h"
#include "netem_fault.h"

/* ---------------------------------------------------------------- HTTP */

/* What the view said about every byte, plus its events: comparable across splits. */
struct trace {
  char *kind;          /* per byte: H B F R */
  int64_t *body_off;   /* per byte, -1 if not body */
  uint32_t *msg;       /* per byte */
  char events[4096];   /* "HEAD@off;END@off;..." */
  size_t n;
};

static void trace_init(struct trace *t, size_t len) {
  memset(t, 0, sizeof *t);
  t->kind = calloc(len, 1);
  t->body_off = calloc(len, sizeof *t->body_off);
  t->msg = calloc(len, sizeof *t->msg);
}

static void trace_free(struct trace *t) {
  free(t->kind);
  free(t->body_off);
  free(t->msg);
}

static uint64_t lcg(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 33;
}

/* mode 0: one piece, 1: byte by byte, 2+: random splits seeded by mode */
static void run_http(enum http_view_role role, const char *stream, size_t len, const int *heads, size_t nheads,
                     int mode, struct trace *t) {
  http_view *v = http_view_new(role);
  ck_assert_ptr_nonnull(v);
  for (size_t i = 0; i < nheads; i++) http_view_push_request(v, heads[i]);
  trace_init(t, len);
  uint64_t seed = (uint64_t)mode;
  size_t pos = 0;
  while (pos < len) {
    size_t piece = mode == 0 ? len - pos : mode == 1 ? 1 : 1 + lcg(&seed) % 97;
    if (piece > len - pos) piece = len - pos;
    const uint8_t *p = (const uint8_t *)stream + pos;
    size_t left = piece;
    while (left) {
      struct http_seg seg;
      size_t n = http_view_step(v, p, left, &seg);
      ck_assert_uint_ge(n, 1);
      ck_assert_uint_le(n, left);
      ck_assert_uint_eq(seg.off, (uint64_t)(p - (const uint8_t *)stream));
      for (size_t k = 0; k < n; k++) {
        size_t at = seg.off + k;
        t->kind[at] = "HBFR"[seg.kind];
        t->body_off[at] = seg.kind == HTTP_SEG_BODY ? (int64_t)(seg.body_off + k) : -1;
        t->msg[at] = seg.msg;
      }
      size_t el = strlen(t->events);
      if (seg.events & HTTP_EV_HEAD) {
        const struct http_head *h = http_view_head(v);
        el += (size_t)snprintf(t->events + el, sizeof t->events - el, "HEAD@%zu:%d:%lld;", (size_t)(seg.off + n),
                               h->status, (long long)h->content_length);
      }
      if (seg.events & HTTP_EV_END)
        el += (size_t)snprintf(t->events + el, sizeof t->events - el, "END@%zu;", (size_t)(seg.off + n));
      if (seg.events & HTTP_EV_ERROR)
        snprintf(t->events + el, sizeof t->events - el, "ERR@%zu;", (size_t)(seg.off + n));
      p += n;
      left -= n;
    }
    pos += piece;
  }
  size_t el = strlen(t->events);
  if (http_view_eof(v) < 0) snprintf(t->events + el, sizeof t->events - el, "EOFERR;");
  t->n = len;
  http_view_free(v);
}

static void same_trace_all_splits(enum http_view_role role, const char *s, const int *heads, size_t nheads,
                                  struct trace *ref) {
  size_t len = strlen(s);
  run_http(role, s, len, heads, nheads, 0, ref);
  for (int mode = 1; mode < 40; mode++) {
    struct trace t;
    run_http(role, s, len, heads, nheads, mode, &t);
    ck_assert_mem_eq(t.kind, ref->kind, len);
    ck_assert_mem_eq(t.body_off, ref->body_off, len * sizeof *t.body_off);
    ck_assert_mem_eq(t.msg, ref->msg, len * sizeof *t.msg);
    ck_assert_str_eq(t.events, ref->events);
    trace_free(&t);
  }
}

static char *build_responses(void) {
  static char s[8192];
  char body[1001];
  for (int i = 0; i < 1000; i++) body[i] = (char)('a' + i % 26);
  body[1000] = 0;
  char big[301];
  memset(big, 'x', 300);
  big[300] = 0;
  snprintf(s, sizeof s,
           "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: application/octet-stream\r\n\r\n%s"
           "HTTP/1.1 100 Continue\r\n\r\n"
           "HTTP/1.1 206 Partial Content\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n12C\r\n%s\r\n"
           "0\r\nX-Trailer: 1\r\n\r\n"
           "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n"   /* answer to HEAD: no body */
           "HTTP/1.1 204 No Content\r\n\r\n"
           "HTTP/1.0 200 OK\r\n\r\ntill-the-end",
           body, big);
  return s;
}

START_TEST(http_responses_same_in_any_split) {
  const char *s = build_responses();
  int heads[] = {0, 0, 1, 0, 0};
  struct trace ref;
  same_trace_all_splits(HTTP_VIEW_RESPONSES, s, heads, 5, &ref);
  ck_assert_ptr_nonnull(strstr(ref.events, "HEAD@"));
  trace_free(&ref);
}
END_TEST

/* The expected events of build_responses(), computed from the text itself. */
START_TEST(http_responses_offsets) {
  const char *s = build_responses();
  size_t len = strlen(s);
  int heads[] = {0, 0, 1, 0, 0};
  struct trace t;
  run_http(HTTP_VIEW_RESPONSES, s, len, heads, 5, 0, &t);
  const char *b1 = strstr(s, "\r\n\r\n") + 4;
  size_t o1 = (size_t)(b1 - s);
  /* response 0: 1000 body bytes, offsets 0..999 */
  ck_assert_int_eq(t.kind[o1 - 1], 'H');
  ck_assert_int_eq(t.body_off[o1], 0);
  ck_assert_int_eq(t.body_off[o1 + 999], 999);
  ck_assert_int_eq(t.kind[o1 + 1000], 'H');
  /* response 1 (after the 100): chunked, body offsets restart at 0 and skip chunk framing */
  const char *hello = strstr(s, "hello");
  size_t oh = (size_t)(hello - s);
  ck_assert_int_eq(t.msg[oh], 1);
  ck_assert_int_eq(t.body_off[oh], 0);
  ck_assert_int_eq(t.body_off[oh + 4], 4);
  ck_assert_int_eq(t.kind[oh + 5], 'F'); /* CRLF after the chunk */
  const char *xs = strstr(s, "xxx");
  ck_assert_int_eq(t.body_off[xs - s], 5);
  ck_assert_int_eq(t.body_off[xs - s + 299], 304);
  /* the HEAD response and the 204 have no body; the last body runs to the end */
  const char *tail = strstr(s, "till-the-end");
  ck_assert_int_eq(t.msg[tail - s], 4);
  ck_assert_int_eq(t.body_off[tail - s], 0);
  ck_assert_int_eq(t.body_off[len - 1], 11);
  for (size_t i = 0; i < len; i++)
    if (t.kind[i] == 'B') ck_assert_int_ne(s[i], '\r'); /* no framing counted as body here */
  ck_assert_ptr_null(strstr(t.events, "ERR"));
  /* 6 heads (100 included), 5 ends, the close-delimited end at EOF is not an error */
  int heads_seen = 0, ends = 0;
  for (const char *e = t.events; (e = strstr(e, "HEAD@")); e++) heads_seen++;
  for (const char *e = t.events; (e = strstr(e, "END@")); e++) ends++;
  ck_assert_int_eq(heads_seen, 6);
  ck_assert_int_eq(ends, 4);
  ck_assert_ptr_null(strstr(t.events, "EOFERR"));
  trace_free(&t);
}
END_TEST

START_TEST(http_requests_range) {
  const char *s = "GET /fw/x.bin HTTP/1.1\r\nHost: a\r\nRange: bytes=1000-\r\n\r\n"
                  "POST /report HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                  "HEAD /fw/x.bin HTTP/1.1\r\n\r\n";
  struct trace ref;
  same_trace_all_splits(HTTP_VIEW_REQUESTS, s, NULL, 0, &ref);
  trace_free(&ref);
  http_view *v = http_view_new(HTTP_VIEW_REQUESTS);
  struct http_seg seg;
  size_t n = http_view_step(v, (const uint8_t *)s, strlen(s), &seg);
  ck_assert(seg.events & HTTP_EV_HEAD);
  ck_assert(seg.events & HTTP_EV_END);
  ck_assert_str_eq(http_view_head(v)->method, "GET");
  ck_assert_str_eq(http_view_head(v)->path, "/fw/x.bin");
  ck_assert_str_eq(http_view_head(v)->range, "bytes=1000-");
  n += http_view_step(v, (const uint8_t *)s + n, strlen(s) - n, &seg);
  ck_assert_str_eq(http_view_head(v)->method, "POST");
  ck_assert_str_eq(http_view_head(v)->range, "");
  n += http_view_step(v, (const uint8_t *)s + n, strlen(s) - n, &seg);
  ck_assert_int_eq(seg.kind, HTTP_SEG_BODY);
  ck_assert_uint_eq(seg.len, 5);
  http_view_free(v);
}
END_TEST

static const char *http_error_of(enum http_view_role role, const char *s) {
  static char msg[256];
  http_view *v = http_view_new(role);
  size_t len = strlen(s), pos = 0;
  int err = 0;
  while (pos < len) {
    struct http_seg seg;
    pos += http_view_step(v, (const uint8_t *)s + pos, len - pos, &seg);
    if (seg.events & HTTP_EV_ERROR) err = 1;
  }
  if (!err && http_view_eof(v) < 0) err = 1;
  snprintf(msg, sizeof msg, "%s", err ? http_view_error(v) : "");
  http_view_free(v);
  return msg;
}

START_TEST(http_malformed_is_an_error) {
  ck_assert_ptr_nonnull(strstr(http_error_of(HTTP_VIEW_RESPONSES, "HTTP/1.1 abc\r\n\r\n"), "status line"));
  ck_assert_ptr_nonnull(strstr(http_error_of(HTTP_VIEW_RESPONSES, "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n"),
                               "Content-Length"));
  ck_assert_ptr_nonnull(strstr(http_error_of(HTTP_VIEW_RESPONSES, "HTTP/1.1 200 OK\r\nno colon\r\n\r\n"), "header"));
  ck_assert_ptr_nonnull(strstr(http_error_of(HTTP_VIEW_RESPONSES,
                                             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                             "fffffffffffffffffffff\r\n"),
                               "overflow"));
  ck_assert_ptr_nonnull(strstr(http_error_of(HTTP_VIEW_RESPONSES,
                                             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY"),
                               "CRLF"));
  ck_assert_ptr_nonnull(
      strstr(http_error_of(HTTP_VIEW_RESPONSES, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), "truncated"));
  ck_assert_ptr_nonnull(strstr(http_error_of(HTTP_VIEW_REQUESTS, "GET/x HTTP/1.1\r\n\r\n"), "request line"));
  /* after an error, the rest is RAW and still consumed */
  http_view *v = http_view_new(HTTP_VIEW_RESPONSES);
  struct http_seg seg;
  const char *s = "garbage\r\n\r\nmore bytes";
  size_t n = http_view_step(v, (const uint8_t *)s, strlen(s), &seg);
  ck_assert(seg.events & HTTP_EV_ERROR);
  http_view_step(v, (const uint8_t *)s + n, strlen(s) - n, &seg);
  ck_assert_int_eq(seg.kind, HTTP_SEG_RAW);
  ck_assert_uint_eq(seg.len, strlen(s) - n);
  http_view_free(v);
  /* a head that never ends is bounded */
  char *huge = malloc(70000);
  memcpy(huge, "HTTP/1.1 200 OK\r\n", 17);
  memset(huge + 17, 'a', 70000 - 18);
  huge[70000 - 1] = 0;
  ck_assert_ptr_nonnull(strstr(http_error_of(HTTP_VIEW_RESPONSES, huge), "64 KiB"));
  free(huge);
}
END_TEST

/* ---------------------------------------------------------------- MQTT */

static size_t put_str(uint8_t *p, const char *s) {
  size_t n = strlen(s);
  p[0] = (uint8_t)(n >> 8);
  p[1] = (uint8_t)n;
  memcpy(p + 2, s, n);
  return n + 2;
}

static size_t put_packet(uint8_t *out, uint8_t first, const uint8_t *body, size_t blen) {
  size_t i = 0;
  out[i++] = first;
  size_t rl = blen;
  do {
    uint8_t b = rl & 0x7f;
    rl >>= 7;
    if (rl) b |= 0x80;
    out[i++] = b;
  } while (rl);
  memcpy(out + i, body, blen);
  return i + blen;
}

/* CONNECT v5, PUBLISH with alias, PUBLISH by alias only, PINGREQ, big PUBLISH QoS1, SUBSCRIBE */
static size_t build_mqtt(uint8_t *s) {
  uint8_t b[1024];
  size_t n = 0, k;
  k = put_str(b, "MQTT");
  b[k++] = 5;    /* level */
  b[k++] = 0x02; /* clean start */
  b[k++] = 0;
  b[k++] = 60;
  b[k++] = 0; /* no properties */
  k += put_str(b + k, "dev1");
  n += put_packet(s + n, 0x10, b, k);
  k = put_str(b, "$ota/update/p/d");
  b[k++] = 3;    /* properties length */
  b[k++] = 0x23; /* topic alias */
  b[k++] = 0;
  b[k++] = 7;
  memcpy(b + k, "{\"v\":2}", 7);
  k += 7;
  n += put_packet(s + n, 0x30, b, k);
  k = put_str(b, "");
  b[k++] = 3;
  b[k++] = 0x23;
  b[k++] = 0;
  b[k++] = 7;
  memcpy(b + k, "again", 5);
  k += 5;
  n += put_packet(s + n, 0x31, b, k);
  n += put_packet(s + n, 0xC0, b, 0);
  k = put_str(b, "fw/chunk");
  b[k++] = 0x12; /* packet id */
  b[k++] = 0x34;
  b[k++] = 0;    /* properties */
  memset(b + k, 0xAB, 200);
  k += 200;
  n += put_packet(s + n, 0x32, b, k);
  k = 0;
  b[k++] = 0;
  b[k++] = 1;
  b[k++] = 0;
  k += put_str(b + k, "$ota/#");
  b[k++] = 1;
  n += put_packet(s + n, 0x82, b, k);
  return n;
}

struct pk {
  int type;
  uint64_t off;
  size_t len;
  char topic[64];
  size_t payload_off;
};

static size_t run_mqtt(const uint8_t *s, size_t len, int mode, struct pk *out, size_t max, int *err) {
  mqtt_frame *f = mqtt_frame_new(0);
  size_t np = 0, pos = 0;
  uint64_t seed = (uint64_t)mode * 7919;
  *err = 0;
  while (pos < len && !*err) {
    size_t piece = mode == 0 ? len - pos : mode == 1 ? 1 : 1 + lcg(&seed) % 23;
    if (piece > len - pos) piece = len - pos;
    const uint8_t *p = s + pos;
    size_t left = piece;
    while (left) {
      struct mqtt_packet pkt;
      size_t used;
      int r = mqtt_frame_feed(f, p, left, &used, &pkt);
      p += used;
      left -= used;
      if (r < 0) {
        *err = 1;
        break;
      }
      if (r == 0) break;
      ck_assert_uint_lt(np, max);
      out[np].type = pkt.type;
      out[np].off = pkt.off;
      out[np].len = pkt.len;
      out[np].payload_off = pkt.payload_off;
      snprintf(out[np].topic, sizeof out[np].topic, "%s", pkt.type == MQTT_PUBLISH ? pkt.topic : "");
      np++;
    }
    pos += piece;
  }
  struct mqtt_packet pkt;
  if (!*err && mqtt_frame_eof(f, &pkt) < 0) *err = 2;
  mqtt_frame_free(f);
  return np;
}

START_TEST(mqtt_same_packets_in_any_split) {
  uint8_t s[2048];
  size_t len = build_mqtt(s);
  struct pk ref[16], got[16];
  int err;
  size_t n = run_mqtt(s, len, 0, ref, 16, &err);
  ck_assert_int_eq(err, 0);
  ck_assert_uint_eq(n, 6);
  ck_assert_int_eq(ref[0].type, MQTT_CONNECT);
  ck_assert_str_eq(ref[1].topic, "$ota/update/p/d");
  ck_assert_str_eq(ref[2].topic, "$ota/update/p/d"); /* resolved from the alias */
  ck_assert_int_eq(ref[3].type, 12);
  ck_assert_str_eq(ref[4].topic, "fw/chunk");
  ck_assert_uint_eq(ref[4].len - ref[4].payload_off, 200);
  ck_assert_uint_eq(ref[5].off + ref[5].len, len);
  for (int mode = 1; mode < 60; mode++) {
    size_t m = run_mqtt(s, len, mode, got, 16, &err);
    ck_assert_int_eq(err, 0);
    ck_assert_uint_eq(m, n);
    for (size_t i = 0; i < n; i++) {
      ck_assert_int_eq(got[i].type, ref[i].type);
      ck_assert_uint_eq(got[i].off, ref[i].off);
      ck_assert_uint_eq(got[i].len, ref[i].len);
      ck_assert_uint_eq(got[i].payload_off, ref[i].payload_off);
      ck_assert_str_eq(got[i].topic, ref[i].topic);
    }
  }
}
END_TEST

START_TEST(mqtt_malformed_is_an_error) {
  struct pk got[4];
  int err;
  /* remaining length with a 5th continuation byte */
  const uint8_t overflow[] = {0x30, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0};
  for (int mode = 0; mode < 3; mode++) {
    run_mqtt(overflow, sizeof overflow, mode, got, 4, &err);
    ck_assert_int_eq(err, 1);
  }
  mqtt_frame *f = mqtt_frame_new(0);
  struct mqtt_packet pkt;
  size_t used;
  ck_assert_int_eq(mqtt_frame_feed(f, overflow, sizeof overflow, &used, &pkt), -1);
  ck_assert_ptr_nonnull(strstr(mqtt_frame_error(f), "remaining length"));
  ck_assert_uint_eq(pkt.len, 5); /* the bytes it held come back to be passed on */
  ck_assert_int_eq(mqtt_frame_feed(f, overflow, 1, &used, &pkt), -1); /* stays failed */
  mqtt_frame_free(f);
  /* truncated frame: a PUBLISH announcing 20 bytes, 5 given, then EOF */
  const uint8_t trunc[] = {0x30, 20, 0, 3, 'a', '/', 'b'};
  for (int mode = 0; mode < 3; mode++) {
    run_mqtt(trunc, sizeof trunc, mode, got, 4, &err);
    ck_assert_int_eq(err, 2);
  }
  f = mqtt_frame_new(0);
  ck_assert_int_eq(mqtt_frame_feed(f, trunc, sizeof trunc, &used, &pkt), 0);
  ck_assert_int_eq(mqtt_frame_eof(f, &pkt), -1);
  ck_assert_uint_eq(pkt.len, sizeof trunc);
  ck_assert_ptr_nonnull(strstr(mqtt_frame_error(f), "truncated"));
  mqtt_frame_free(f);
  /* topic length beyond the packet; reserved type 0; bad SUBSCRIBE flags; QoS 3 */
  const uint8_t badtopic[] = {0x30, 4, 0, 9, 'a', 'b'};
  const uint8_t type0[] = {0x00, 0};
  const uint8_t badflags[] = {0x80, 2, 0, 1};
  const uint8_t qos3[] = {0x36, 5, 0, 1, 'a', 0, 1};
  const uint8_t *cases[] = {badtopic, type0, badflags, qos3};
  size_t lens[] = {sizeof badtopic, sizeof type0, sizeof badflags, sizeof qos3};
  for (int i = 0; i < 4; i++)
    for (int mode = 0; mode < 3; mode++) {
      run_mqtt(cases[i], lens[i], mode, got, 4, &err);
      ck_assert_int_eq(err, 1);
    }
  /* a packet over the limit */
  f = mqtt_frame_new(100);
  const uint8_t big[] = {0x30, 0xC8, 0x01};
  ck_assert_int_eq(mqtt_frame_feed(f, big, sizeof big, &used, &pkt), -1);
  ck_assert_ptr_nonnull(strstr(mqtt_frame_error(f), "limit"));
  mqtt_frame_free(f);
  /* random garbage never crashes */
  uint64_t seed = 42;
  for (int round = 0; round < 2000; round++) {
    uint8_t junk[64];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)lcg(&seed);
    f = mqtt_frame_new(4096);
    mqtt_frame_set_version(f, round % 2 ? 5 : 4);
    size_t pos = 0;
    while (pos < sizeof junk) {
      int r = mqtt_frame_feed(f, junk + pos, sizeof junk - pos, &used, &pkt);
      pos += used;
      if (r <= 0) break;
    }
    mqtt_frame_eof(f, &pkt);
    mqtt_frame_free(f);
  }
}
END_TEST

/* A SUBSCRIBE's filters (v3.1.1, and v5 with properties), what a cloud waits for
 * before it pushes; a malformed one is -1. */
START_TEST(mqtt_subscribe_filters_read) {
  static const uint8_t v4[] = {0x82, 16, 0, 7, 0, 3, 'a', '/', 'b', 1, 0, 5, 'c', '/', '+', '/', 'd', 0};
  static const uint8_t v5[] = {0x82, 9, 0, 7, 2, 0x0b, 1, 0, 1, 'x', 1};
  static const uint8_t bad[] = {0x82, 6, 0, 7, 0, 9, 'a', 1};
  struct mqtt_packet pkt = {.type = MQTT_SUBSCRIBE, .hdr_len = 2};
  char out[64];
  pkt.data = (uint8_t *)v4, pkt.len = sizeof v4;
  ck_assert_int_eq(mqtt_subscribe_filters(&pkt, 4, out, sizeof out), 2);
  ck_assert_str_eq(out, "a/b c/+/d");
  ck_assert_int_eq(mqtt_subscribe_filters(&pkt, 4, out, 6), 2); /* the second does not fit */
  ck_assert_str_eq(out, "a/b");
  pkt.data = (uint8_t *)v5, pkt.len = sizeof v5;
  ck_assert_int_eq(mqtt_subscribe_filters(&pkt, 5, out, sizeof out), 1);
  ck_assert_str_eq(out, "x");
  pkt.data = (uint8_t *)bad, pkt.len = sizeof bad;
  ck_assert_int_eq(mqtt_subscribe_filters(&pkt, 4, out, sizeof out), -1);
  pkt.type = MQTT_PUBLISH;
  ck_assert_int_eq(mqtt_subscribe_filters(&pkt, 4, out, sizeof out), -1);
}
END_TEST

START_TEST(mqtt_topic_filters) {
#define M(f, t) mqtt_topic_match(f, t, strlen(t))
  ck_assert(M("$ota/update/+/+", "$ota/update/prod/dev"));
  ck_assert(!M("$ota/update/+/+", "$ota/update/prod"));
  ck_assert(!M("$ota/update/+/+", "$ota/update/prod/dev/x"));
  ck_assert(M("a/#", "a"));
  ck_assert(M("a/#", "a/b/c"));
  ck_assert(M("#", "a/b"));
  ck_assert(!M("#", "$SYS/x"));
  ck_assert(!M("+/x", "$a/x"));
  ck_assert(M("+/+", "/x"));
  ck_assert(M("a/+/c", "a//c"));
  ck_assert(!M("a/b", "a/bc"));
  ck_assert(M("a/b", "a/b"));
#undef M
}
END_TEST

/* ---------------------------------------------------------------- fault SPECs */

START_TEST(fault_spec_parse) {
  struct netem_fault f;
  char err[256];
  ck_assert_int_eq(netem_fault_parse("cut:body=40000", &f, err, sizeof err), 0);
  ck_assert_int_eq(f.kind, NETEM_FAULT_CUT);
  ck_assert_int_eq(f.unit, NETEM_UNIT_BODY);
  ck_assert_uint_eq(f.at, 40000);
  ck_assert_int_eq(netem_fault_dir(&f), NETEM_DIR_DOWN);
  ck_assert_uint_eq(netem_fault_times(&f), 1);
  ck_assert_int_eq(netem_fault_parse("corrupt:body=1000,2000,0x10", &f, err, sizeof err), 0);
  ck_assert_uint_eq(f.n_offsets, 3);
  ck_assert_uint_eq(f.offsets[1], 2000);
  ck_assert_uint_eq(f.offsets[2], 16);
  ck_assert_int_eq(netem_fault_parse("throttle:rate=20KB/s", &f, err, sizeof err), 0);
  ck_assert_uint_eq(f.rate, 20480);
  ck_assert_int_eq(netem_fault_parse("stall:after_body=4096", &f, err, sizeof err), 0);
  ck_assert_int_eq(f.kind, NETEM_FAULT_STALL);
  ck_assert_uint_eq(f.at, 4096);
  ck_assert_int_eq(netem_fault_parse("flap:every=64K,rst", &f, err, sizeof err), 0);
  ck_assert_uint_eq(f.every, 65536);
  ck_assert_int_eq(f.rst, 1);
  ck_assert_int_eq(netem_fault_parse("latency:ms=50,jitter=10", &f, err, sizeof err), 0);
  ck_assert_uint_eq(f.ms, 50);
  ck_assert_uint_eq(f.jitter_ms, 10);
  ck_assert_int_eq(netem_fault_parse("mqtt-drop:topic=$ota/update/+/+,count=1", &f, err, sizeof err), 0);
  ck_assert_str_eq(f.topic, "$ota/update/+/+");
  ck_assert_uint_eq(netem_fault_times(&f), 1);
  ck_assert_int_eq(netem_fault_dir(&f), NETEM_DIR_BOTH);
  ck_assert_int_eq(netem_fault_parse("cut:ms=2s,every,dir=up", &f, err, sizeof err), 0);
  ck_assert_uint_eq(f.ms, 2000);
  ck_assert_uint_eq(netem_fault_times(&f), 0);
  ck_assert_int_eq(netem_fault_dir(&f), NETEM_DIR_UP);
  /* errors name what is wrong */
  ck_assert_int_eq(netem_fault_parse("explode:now", &f, err, sizeof err), UV_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "unknown kind"));
  ck_assert_int_eq(netem_fault_parse("cut:body=abc", &f, err, sizeof err), UV_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "body"));
  ck_assert_int_eq(netem_fault_parse("cut", &f, err, sizeof err), UV_EINVAL);
  ck_assert_int_eq(netem_fault_parse("throttle:rate=0", &f, err, sizeof err), UV_EINVAL);
  ck_assert_int_eq(netem_fault_parse("cut:body=1,colour=red", &f, err, sizeof err), UV_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "colour"));
  ck_assert_int_eq(netem_fault_parse("mqtt-drop:count=1", &f, err, sizeof err), UV_EINVAL);
  ck_assert_int_eq(netem_fault_parse("latency:ms=5,jitter=10", &f, err, sizeof err), UV_EINVAL);
  ck_assert_int_eq(netem_fault_parse("corrupt:body=1,random=3", &f, err, sizeof err), UV_EINVAL);
  ck_assert_int_eq(netem_fault_parse("throttle:rate=99999999999999999999999", &f, err, sizeof err), UV_EINVAL);
  /* struct way: what the Lua API fills */
  netem_fault_init(&f, NETEM_FAULT_CORRUPT);
  f.unit = NETEM_UNIT_BODY;
  f.random = 4;
  ck_assert_int_eq(netem_fault_check(&f, err, sizeof err), 0);
  char desc[256];
  ck_assert_str_eq(netem_fault_describe(&f, desc, sizeof desc), "corrupt:dir=down,random=4,body,times=1");
}
END_TEST

/* cut's alert= (a fatal TLS alert first): named as in RFC 8446, internal_error by default */
START_TEST(fault_spec_tls_alert) {
  struct netem_fault f;
  char err[256], desc[256];
  ck_assert_int_eq(netem_fault_parse("cut:body=100,alert", &f, err, sizeof err), 0);
  ck_assert(f.has_alert && f.alert == 80);
  ck_assert_str_eq(netem_fault_describe(&f, desc, sizeof desc), "cut:dir=down,body=100,alert=internal_error,times=1");
  ck_assert_int_eq(netem_fault_parse("cut:body=1,alert=bad_record_mac,rst", &f, err, sizeof err), 0);
  ck_assert_int_eq(f.alert, 20);
  ck_assert_int_eq(netem_fault_parse("cut:ms=5,alert=decode_error", &f, err, sizeof err), 0);
  ck_assert_int_eq(f.alert, 50);
  ck_assert_int_eq(netem_fault_parse("cut:body=1,alert=oops", &f, err, sizeof err), UV_EINVAL);
  ck_assert_str_eq(err, "netem fault: bad value for alert: 'oops'");
  ck_assert_int_eq(netem_fault_parse("stall:body=1,alert", &f, err, sizeof err), UV_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "alert= only for cut"));
  ck_assert_int_eq(netem_tls_alert_from_name("unexpected_message"), 10);
  ck_assert_str_eq(netem_tls_alert_name(80), "internal_error");
  ck_assert_ptr_null(netem_tls_alert_name(0));
}
END_TEST

int main(void) {
  Suite *s = suite_create("netem_framers");
  TCase *tc = tcase_create("all");
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, http_responses_offsets);
  tcase_add_test(tc, http_responses_same_in_any_split);
  tcase_add_test(tc, http_requests_range);
  tcase_add_test(tc, http_malformed_is_an_error);
  tcase_add_test(tc, mqtt_same_packets_in_any_split);
  tcase_add_test(tc, mqtt_malformed_is_an_error);
  tcase_add_test(tc, mqtt_topic_filters);
  tcase_add_test(tc, mqtt_subscribe_filters_read);
  tcase_add_test(tc, fault_spec_parse);
  tcase_add_test(tc, fault_spec_tls_alert);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
