/* In-process tests of the proxy API on a real libuv loop with real sockets: a small HTTP
 * upstream and a raw TCP client in the test, the proxy between them. Each test ends by
 * closing everything and asserting the loop has no live handle left. */
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "netem.h"

static uint8_t body_byte(size_t i) { return (uint8_t)((i * 31 + 7) & 0xff); }

/* ---------------------------------------------------------------- upstream */

struct srv_conn {
  uv_tcp_t tcp;
  char req[4096];
  size_t len;
  struct srv_conn *next;
};

struct server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  int port;
  struct srv_conn *conns;
  int requests;
};

static void srv_alloc(uv_handle_t *h, size_t s, uv_buf_t *b) {
  (void)h;
  *b = uv_buf_init(malloc(s), (unsigned)s);
}

static void srv_written(uv_write_t *w, int status) {
  (void)status;
  free(w->data);
  free(w);
}

static void srv_closed(uv_handle_t *h) {
  struct srv_conn *c = h->data;
  free(c);
}

static void srv_drop(struct server *s, struct srv_conn *c) {
  for (struct srv_conn **pp = &s->conns; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  uv_close((uv_handle_t *)&c->tcp, srv_closed);
}

/* Answers "GET /N" with N body bytes, "HEAD /N" with the head only; keep-alive. */
static void srv_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  struct srv_conn *c = st->data;
  struct server *s = c->tcp.loop->data;
  if (n < 0) {
    free(b->base);
    srv_drop(s, c);
    return;
  }
  if ((size_t)n > sizeof c->req - c->len) n = (ssize_t)(sizeof c->req - c->len);
  memcpy(c->req + c->len, b->base, (size_t)n);
  c->len += (size_t)n;
  free(b->base);
  for (;;) {
    char *end = memmem(c->req, c->len, "\r\n\r\n", 4);
    if (!end) return;
    int head = strncmp(c->req, "HEAD ", 5) == 0;
    const char *slash = memchr(c->req, '/', c->len);
    size_t size = slash ? strtoul(slash + 1, NULL, 10) : 0;
    char hdr[128];
    int hl = snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", size);
    size_t total = (size_t)hl + (head ? 0 : size);
    uint8_t *out = malloc(total);
    memcpy(out, hdr, (size_t)hl);
    if (!head)
      for (size_t i = 0; i < size; i++) out[hl + (int)i] = body_byte(i);
    uv_write_t *w = malloc(sizeof *w);
    w->data = out;
    uv_buf_t wb = uv_buf_init((char *)out, (unsigned)total);
    uv_write(w, st, &wb, 1, srv_written);
    s->requests++;
    size_t used = (size_t)(end + 4 - c->req);
    memmove(c->req, c->req + used, c->len - used);
    c->len -= used;
  }
}

static void srv_accept(uv_stream_t *l, int status) {
  struct server *s = l->data;
  ck_assert_int_eq(status, 0);
  struct srv_conn *c = calloc(1, sizeof *c);
  uv_tcp_init(s->loop, &c->tcp);
  c->tcp.data = c;
  ck_assert_int_eq(uv_accept(l, (uv_stream_t *)&c->tcp), 0);
  c->next = s->conns;
  s->conns = c;
  uv_read_start((uv_stream_t *)&c->tcp, srv_alloc, srv_read);
}

static void server_start(struct server *s, uv_loop_t *loop) {
  memset(s, 0, sizeof *s);
  s->loop = loop;
  loop->data = s;
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  ck_assert_int_eq(uv_tcp_bind(&s->listener, (struct sockaddr *)&a, 0), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&s->listener, 16, srv_accept), 0);
  struct sockaddr_in b;
  int bl = sizeof b;
  uv_tcp_getsockname(&s->listener, (struct sockaddr *)&b, &bl);
  s->port = ntohs(b.sin_port);
}

static void server_stop(struct server *s) {
  while (s->conns) srv_drop(s, s->conns);
  uv_close((uv_handle_t *)&s->listener, NULL);
}

/* ---------------------------------------------------------------- client */

struct client {
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_write_t wreq;
  char request[512];
  uint8_t *got;
  size_t len, cap;
  size_t expect;      /* close once this many bytes arrived (0: wait for EOF) */
  int done;           /* 1 EOF, 2 error, 3 got expect */
  int err;
  uint64_t t_start, t_done;
};

static void cl_alloc(uv_handle_t *h, size_t s, uv_buf_t *b) {
  (void)h;
  *b = uv_buf_init(malloc(s), (unsigned)s);
}

static void cl_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  struct client *c = st->data;
  if (n > 0) {
    if (c->len + (size_t)n > c->cap) {
      c->cap = (c->len + (size_t)n) * 2;
      c->got = realloc(c->got, c->cap);
    }
    memcpy(c->got + c->len, b->base, (size_t)n);
    c->len += (size_t)n;
  }
  free(b->base);
  if (n < 0 || (c->expect && c->len >= c->expect)) {
    c->done = n == UV_EOF ? 1 : n < 0 ? 2 : 3;
    c->err = n < 0 ? (int)n : 0;
    c->t_done = uv_hrtime();
    uv_read_stop(st);
    uv_close((uv_handle_t *)st, NULL);
  }
}

static void cl_written(uv_write_t *w, int status) { (void)w; (void)status; }

static void cl_connected(uv_connect_t *r, int status) {
  struct client *c = r->data;
  ck_assert_int_eq(status, 0);
  uv_buf_t b = uv_buf_init(c->request, (unsigned)strlen(c->request));
  c->t_start = uv_hrtime();
  uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, cl_written);
  uv_read_start((uv_stream_t *)&c->tcp, cl_alloc, cl_read);
}

static void client_start(struct client *c, uv_loop_t *loop, int port, const char *request, size_t expect) {
  memset(c, 0, sizeof *c);
  snprintf(c->request, sizeof c->request, "%s", request);
  c->expect = expect;
  uv_tcp_init(loop, &c->tcp);
  c->tcp.data = c;
  c->creq.data = c;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", port, &a);
  ck_assert_int_eq(uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&a, cl_connected), 0);
}

/* ---------------------------------------------------------------- fixture */

struct events {
  int corrupt, stall, release, fin, rst, requests, responses;
  int64_t corrupt_body[16];
  uint32_t corrupt_msg[16];
};

static void on_event(const struct netem_event *ev, void *user) {
  if (getenv("NETEM_TEST_VERBOSE")) { char l[512]; fprintf(stderr, "%s\n", netem_event_format(ev, l, sizeof l)); }
  struct events *e = user;
  if (ev->kind == NETEM_EV_HTTP_REQUEST) e->requests++;
  if (ev->kind == NETEM_EV_HTTP_RESPONSE) e->responses++;
  if (ev->kind != NETEM_EV_FAULT || !ev->action) return;
  if (strcmp(ev->action, "corrupt") == 0 && e->corrupt < 16) {
    e->corrupt_body[e->corrupt] = ev->body_offset;
    e->corrupt_msg[e->corrupt] = ev->msg_index;
    ck_assert_int_ne(ev->old_byte, ev->new_byte);
    e->corrupt++;
  }
  if (strcmp(ev->action, "stall") == 0) e->stall++;
  if (strcmp(ev->action, "release") == 0) e->release++;
  if (strcmp(ev->action, "fin") == 0) e->fin++;
  if (strcmp(ev->action, "rst") == 0) e->rst++;
}

struct fx {
  uv_loop_t loop;
  struct server srv;
  netem_proxy *p;
  struct events ev;
  int closed;
};

static void fx_open(struct fx *f, size_t high_water) {
  memset(f, 0, sizeof *f);
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  server_start(&f->srv, &f->loop);
  struct netem_proxy_opts o;
  memset(&o, 0, sizeof o);
  o.name = "test/http";
  o.listen_host = "127.0.0.1";
  o.upstream_host = "127.0.0.1";
  o.upstream_port = f->srv.port;
  o.view = NETEM_VIEW_HTTP;
  o.seed = 1234;
  o.on_event = on_event;
  o.user = &f->ev;
  o.high_water = high_water;
  char err[256];
  ck_assert_int_eq(netem_proxy_open(&f->loop, &o, &f->p, err, sizeof err), 0);
}

static void proxy_closed(void *user) { *(int *)user = 1; }

/* Runs until cond (checked every 5 ms) or a deadline of ms. */
static int run_until(struct fx *f, int (*cond)(void *), void *arg, int ms) {
  uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000ull;
  while (!cond(arg) && uv_hrtime() < end) uv_run(&f->loop, UV_RUN_ONCE);
  return cond(arg);
}

static void fx_close(struct fx *f) {
  netem_proxy_close(f->p, proxy_closed, &f->closed);
  server_stop(&f->srv);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(f->closed, 1);
  /* like libuv's MAKE_VALGRIND_HAPPY: nothing may be left open */
  ck_assert_int_eq(uv_loop_close(&f->loop), 0);
}

static int client_done(void *arg) { return ((struct client *)arg)->done != 0; }

/* Checks a response in c->got at *pos: head, then size body bytes (the pattern, except the
 * offsets listed with their xor mask). */
static void check_response(const struct client *c, size_t *pos, size_t size, const size_t *bad, size_t nbad,
                           uint8_t mask) {
  char hdr[128];
  int hl = snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", size);
  ck_assert_uint_ge(c->len, *pos + (size_t)hl + size);
  ck_assert_mem_eq(c->got + *pos, hdr, (size_t)hl); /* headers never touched */
  const uint8_t *b = c->got + *pos + hl;
  for (size_t i = 0; i < size; i++) {
    uint8_t want = body_byte(i);
    for (size_t k = 0; k < nbad; k++)
      if (bad[k] == i) want ^= mask;
    if (b[i] != want) ck_abort_msg("body byte %zu: got 0x%02x want 0x%02x", i, b[i], want);
  }
  *pos += (size_t)hl + size;
}

static size_t head_len(size_t size) {
  char hdr[128];
  return (size_t)snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", size);
}

/* ---------------------------------------------------------------- tests */

START_TEST(passthrough_and_keepalive_corrupt_every_response) {
  struct fx f;
  fx_open(&f, 0);
  char err[256];
  uint32_t id;
  ck_assert_int_eq(netem_fault_add_spec(f.p, "corrupt:body=10,99999,every,xor=0xff", &id, err, sizeof err), 0);
  struct client c;
  size_t expect = head_len(100000) + 100000 + head_len(50000) + 50000 + head_len(20);
  client_start(&c, &f.loop, netem_proxy_port(f.p),
               "GET /100000 HTTP/1.1\r\nHost: x\r\n\r\nGET /50000 HTTP/1.1\r\n\r\nHEAD /20 HTTP/1.1\r\n\r\n", expect);
  ck_assert(run_until(&f, client_done, &c, 5000));
  ck_assert_int_eq(c.done, 3);
  ck_assert_uint_eq(c.len, expect);
  size_t pos = 0, bad1[] = {10, 99999}, bad2[] = {10};
  check_response(&c, &pos, 100000, bad1, 2, 0xff);
  check_response(&c, &pos, 50000, bad2, 1, 0xff); /* body offsets restart per response */
  ck_assert_int_eq(f.ev.corrupt, 3);
  ck_assert_int_eq(f.ev.corrupt_msg[2], 1);
  ck_assert_int_eq(f.ev.corrupt_body[2], 10);
  ck_assert_int_eq(f.ev.requests, 3);
  ck_assert_int_eq(f.ev.responses, 3);
  ck_assert_uint_eq(netem_proxy_body_delivered(f.p), 150000); /* the HEAD response has none */
  /* without the fault, bytes pass unchanged */
  ck_assert_int_eq(netem_fault_remove(f.p, id), 0);
  ck_assert_int_eq(netem_fault_remove(f.p, id), UV_ENOENT);
  struct client c2;
  client_start(&c2, &f.loop, netem_proxy_port(f.p), "GET /70000 HTTP/1.1\r\n\r\n", head_len(70000) + 70000);
  ck_assert(run_until(&f, client_done, &c2, 5000));
  pos = 0;
  check_response(&c2, &pos, 70000, NULL, 0, 0);
  free(c.got);
  free(c2.got);
  fx_close(&f);
}
END_TEST

START_TEST(cut_once_exact_then_next_response_whole) {
  struct fx f;
  fx_open(&f, 0);
  char err[256];
  ck_assert_int_eq(netem_fault_add_spec(f.p, "cut:body=1234", NULL, err, sizeof err), 0);
  struct client c;
  client_start(&c, &f.loop, netem_proxy_port(f.p), "GET /100000 HTTP/1.1\r\n\r\n", 0);
  ck_assert(run_until(&f, client_done, &c, 5000));
  ck_assert_int_eq(c.done, 1); /* FIN */
  ck_assert_uint_eq(c.len, head_len(100000) + 1234);
  ck_assert_int_eq(f.ev.fin, 1);
  struct client c2; /* times=1: the retry gets everything */
  client_start(&c2, &f.loop, netem_proxy_port(f.p), "GET /100000 HTTP/1.1\r\n\r\n", head_len(100000) + 100000);
  ck_assert(run_until(&f, client_done, &c2, 5000));
  size_t pos = 0;
  check_response(&c2, &pos, 100000, NULL, 0, 0);
  free(c.got);
  free(c2.got);
  fx_close(&f);
}
END_TEST

struct watch_state {
  struct fx *f;
  struct client *c;
  uint64_t at_watch;
  size_t client_len_later;
  uint64_t delivered_later;
  uv_timer_t timer;
  int phase;
};

static void later(uv_timer_t *t) {
  struct watch_state *w = t->data;
  /* 200 ms after the stall began nothing more went through */
  w->delivered_later = netem_proxy_body_delivered(w->f->p);
  w->client_len_later = w->c->len;
  netem_fault_clear(w->f->p); /* the end of a scenario releases the stall */
  w->phase = 2;
  uv_close((uv_handle_t *)t, NULL);
}

static void on_watch(netem_proxy *p, uint64_t delivered, void *user) {
  struct watch_state *w = user;
  (void)p;
  w->at_watch = delivered;
  w->phase = 1;
  uv_timer_init(&w->f->loop, &w->timer);
  w->timer.data = w;
  uv_timer_start(&w->timer, later, 200, 0);
}

START_TEST(stall_until_cleared_and_body_watch) {
  struct fx f;
  fx_open(&f, 0);
  char err[256];
  ck_assert_int_eq(netem_fault_add_spec(f.p, "stall:body=50000", NULL, err, sizeof err), 0);
  struct watch_state w;
  memset(&w, 0, sizeof w);
  struct client c;
  w.f = &f;
  w.c = &c;
  ck_assert_int_eq(netem_proxy_watch_body(f.p, 50000, on_watch, &w, NULL), 0);
  client_start(&c, &f.loop, netem_proxy_port(f.p), "GET /200000 HTTP/1.1\r\n\r\n", head_len(200000) + 200000);
  ck_assert(run_until(&f, client_done, &c, 5000));
  ck_assert_int_eq(w.phase, 2);
  ck_assert_uint_eq(w.at_watch, 50000);
  ck_assert_uint_eq(w.delivered_later, 50000);
  ck_assert_uint_eq(w.client_len_later, head_len(200000) + 50000);
  ck_assert_int_eq(f.ev.stall, 1);
  ck_assert_int_eq(f.ev.release, 1);
  ck_assert_uint_eq(netem_fault_count(f.p), 0);
  size_t pos = 0;
  check_response(&c, &pos, 200000, NULL, 0, 0);
  free(c.got);
  fx_close(&f);
}
END_TEST

struct bp {
  struct fx *f;
  size_t server_queue;
  uv_timer_t timer;
};

static void bp_check(uv_timer_t *t) {
  struct bp *b = t->data;
  ck_assert_ptr_nonnull(b->f->srv.conns);
  b->server_queue = uv_stream_get_write_queue_size((uv_stream_t *)&b->f->srv.conns->tcp);
  netem_fault_clear(b->f->p);
  uv_close((uv_handle_t *)t, NULL);
}

START_TEST(stall_applies_backpressure) {
  struct fx f;
  fx_open(&f, 256 * 1024);
  char err[256];
  ck_assert_int_eq(netem_fault_add_spec(f.p, "stall", NULL, err, sizeof err), 0);
  size_t size = 48u << 20;
  struct client c;
  client_start(&c, &f.loop, netem_proxy_port(f.p), "GET /50331648 HTTP/1.1\r\n\r\n", head_len(size) + size);
  struct bp b = {&f, 0, {0}};
  uv_timer_init(&f.loop, &b.timer);
  b.timer.data = &b;
  uv_timer_start(&b.timer, bp_check, 500, 0);
  ck_assert(run_until(&f, client_done, &c, 15000));
  /* the proxy stopped reading: most of the body was still waiting in the upstream */
  ck_assert_msg(b.server_queue > size - (16u << 20), "upstream queue %zu: proxy read too much", b.server_queue);
  ck_assert_uint_eq(c.len, head_len(size) + size);
  size_t pos = 0;
  check_response(&c, &pos, size, NULL, 0, 0);
  free(c.got);
  fx_close(&f);
}
END_TEST

START_TEST(throttle_and_latency) {
  struct fx f;
  fx_open(&f, 0);
  char err[256];
  ck_assert_int_eq(netem_fault_add_spec(f.p, "throttle:rate=200KB/s", NULL, err, sizeof err), 0);
  struct client c;
  client_start(&c, &f.loop, netem_proxy_port(f.p), "GET /102400 HTTP/1.1\r\n\r\n", head_len(102400) + 102400);
  ck_assert(run_until(&f, client_done, &c, 5000));
  double secs = (double)(c.t_done - c.t_start) / 1e9;
  ck_assert_msg(secs >= 0.4 && secs < 1.5, "100 KiB at 200 KiB/s took %.3f s", secs);
  size_t pos = 0;
  check_response(&c, &pos, 102400, NULL, 0, 0);
  netem_fault_clear(f.p);
  ck_assert_int_eq(netem_fault_add_spec(f.p, "latency:ms=150,dir=both", NULL, err, sizeof err), 0);
  struct client c2;
  client_start(&c2, &f.loop, netem_proxy_port(f.p), "GET /10 HTTP/1.1\r\n\r\n", head_len(10) + 10);
  ck_assert(run_until(&f, client_done, &c2, 5000));
  secs = (double)(c2.t_done - c2.t_start) / 1e9;
  ck_assert_msg(secs >= 0.29 && secs < 1.0, "two ways of 150 ms took %.3f s", secs);
  free(c.got);
  free(c2.got);
  fx_close(&f);
}
END_TEST

START_TEST(bad_faults_are_refused_and_close_with_open_conns) {
  struct fx f;
  fx_open(&f, 0);
  char err[256];
  ck_assert_int_eq(netem_fault_add_spec(f.p, "mqtt-drop:topic=a", NULL, err, sizeof err), UV_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "MQTT view"));
  ck_assert_int_eq(netem_fault_add_spec(f.p, "cut:nope=1", NULL, err, sizeof err), UV_EINVAL);
  ck_assert_uint_eq(netem_fault_count(f.p), 0);
  /* a stalled transfer still open when the proxy closes */
  ck_assert_int_eq(netem_fault_add_spec(f.p, "stall:body=10", NULL, err, sizeof err), 0);
  ck_assert_int_eq(netem_fault_add_spec(f.p, "cut:ms=10000", NULL, err, sizeof err), 0);
  struct client c;
  client_start(&c, &f.loop, netem_proxy_port(f.p), "GET /100000 HTTP/1.1\r\n\r\n", 0);
  uint64_t end = uv_hrtime() + 300000000ull;
  while (uv_hrtime() < end && f.ev.stall == 0) uv_run(&f.loop, UV_RUN_ONCE);
  ck_assert_int_eq(f.ev.stall, 1);
  ck_assert_uint_eq(netem_proxy_conn_count(f.p), 1);
  fx_close(&f); /* closes the conn and the cut timer */
  /* the client's connection ended (libuv reports a RST after a partial read as EOF) */
  ck_assert_msg(c.done == 1 || c.done == 2, "client done=%d err=%s len=%zu", c.done, c.err ? uv_err_name(c.err) : "-", c.len);
  free(c.got);
}
END_TEST

/* ------------------------------------------------ the zero-copy path (splice) */

static int conns_zero(void *arg) { return netem_proxy_conn_count(arg) == 0; }

START_TEST(splice_forwards_bodies_and_parses_every_head) {
  /* no fault: bodies go socket to socket, yet every head is parsed and counted */
  struct fx f;
  fx_open(&f, 0);
  struct client c;
  size_t a = 8u << 20, b = 3000000;
  size_t expect = head_len(a) + a + head_len(20) + head_len(b) + b;
  client_start(&c, &f.loop, netem_proxy_port(f.p),
               "GET /8388608 HTTP/1.1\r\n\r\nHEAD /20 HTTP/1.1\r\n\r\nGET /3000000 HTTP/1.1\r\n\r\n", expect);
  ck_assert(run_until(&f, client_done, &c, 20000));
  ck_assert_int_eq(c.done, 3);
  ck_assert_uint_eq(c.len, expect);
  size_t pos = 0;
  check_response(&c, &pos, a, NULL, 0, 0);
  char hdr[128];
  snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n");
  ck_assert_mem_eq(c.got + pos, hdr, strlen(hdr));
  pos += strlen(hdr);
  check_response(&c, &pos, b, NULL, 0, 0);
  ck_assert_int_eq(f.ev.requests, 3);
  ck_assert_int_eq(f.ev.responses, 3);
  ck_assert_uint_eq(netem_proxy_body_delivered(f.p), a + b);
  /* all but what the read path took with each head (one read of 256 KiB at most: once the
     view is in a body, it stops reading and the zero-copy path takes over) */
  uint64_t spliced = netem_proxy_spliced(f.p);
  ck_assert_msg(spliced >= a + b - 2 * 262144 && spliced <= a + b, "spliced %llu of %zu body bytes",
                (unsigned long long)spliced, a + b);
  /* a client that leaves in the middle: the proxy notices and closes the connection */
  struct client c2;
  client_start(&c2, &f.loop, netem_proxy_port(f.p), "GET /33554432 HTTP/1.1\r\n\r\n", 1u << 20);
  ck_assert(run_until(&f, client_done, &c2, 10000));
  ck_assert(run_until(&f, conns_zero, f.p, 5000));
  ck_assert_uint_gt(netem_proxy_spliced(f.p), spliced);
  free(c.got);
  free(c2.got);
  fx_close(&f);
}
END_TEST

struct midway {
  struct fx *f;
  uint64_t spliced_at_fault;
  int added;
};

static void add_fault_midway(netem_proxy *p, uint64_t delivered, void *user) {
  struct midway *m = user;
  char err[256];
  (void)delivered;
  /* called from inside the zero-copy path, which must hand over to the stages at once */
  ck_assert_int_eq(netem_fault_add_spec(p, "corrupt:body=10000000,12000000,xor=0xff", NULL, err, sizeof err), 0);
  m->spliced_at_fault = netem_proxy_spliced(p);
  m->added = 1;
}

START_TEST(fault_added_midway_applies_at_its_offsets) {
  struct fx f;
  fx_open(&f, 0);
  struct midway m = {&f, 0, 0};
  ck_assert_int_eq(netem_proxy_watch_body(f.p, 2u << 20, add_fault_midway, &m, NULL), 0);
  size_t size = 16u << 20;
  struct client c;
  client_start(&c, &f.loop, netem_proxy_port(f.p), "GET /16777216 HTTP/1.1\r\n\r\n", head_len(size) + size);
  ck_assert(run_until(&f, client_done, &c, 20000));
  ck_assert_int_eq(m.added, 1);
  ck_assert_uint_gt(m.spliced_at_fault, 1u << 20);        /* the path was on until then */
  ck_assert_uint_eq(netem_proxy_spliced(f.p), m.spliced_at_fault); /* and off after */
  size_t pos = 0, bad[] = {10000000, 12000000};
  check_response(&c, &pos, size, bad, 2, 0xff);
  ck_assert_int_eq(f.ev.corrupt, 2);
  ck_assert_int_eq(f.ev.corrupt_body[0], 10000000);
  ck_assert_int_eq(f.ev.corrupt_body[1], 12000000);
  ck_assert_uint_eq(netem_proxy_body_delivered(f.p), size);
  /* the fault gone, the path comes back */
  netem_fault_clear(f.p);
  struct client c2;
  client_start(&c2, &f.loop, netem_proxy_port(f.p), "GET /4000000 HTTP/1.1\r\n\r\n", head_len(4000000) + 4000000);
  ck_assert(run_until(&f, client_done, &c2, 20000));
  pos = 0;
  check_response(&c2, &pos, 4000000, NULL, 0, 0);
  ck_assert_uint_gt(netem_proxy_spliced(f.p), m.spliced_at_fault + 3000000);
  free(c.got);
  free(c2.got);
  fx_close(&f);
}
END_TEST

/* Faults act in the order added, each on the next response it can act on: the cut added
   first breaks the first response, whatever the offsets of the cuts added after it. */
START_TEST(cuts_act_in_the_order_added) {
  struct fx f;
  fx_open(&f, 0);
  char err[256];
  ck_assert_int_eq(netem_fault_add_spec(f.p, "cut:body=3000", NULL, err, sizeof err), 0);
  ck_assert_int_eq(netem_fault_add_spec(f.p, "cut:body=1000", NULL, err, sizeof err), 0);
  ck_assert_int_eq(netem_fault_add_spec(f.p, "cut:body=2000", NULL, err, sizeof err), 0);
  size_t want[] = {3000, 1000, 2000, 100000};
  for (int i = 0; i < 4; i++) {
    struct client c;
    client_start(&c, &f.loop, netem_proxy_port(f.p), "GET /100000 HTTP/1.1\r\n\r\n",
                 i == 3 ? head_len(100000) + 100000 : 0);
    ck_assert(run_until(&f, client_done, &c, 5000));
    if (c.len != head_len(100000) + want[i])
      ck_abort_msg("response %d: got %zu body bytes, want %zu", i, c.len - head_len(100000), want[i]);
    free(c.got);
  }
  ck_assert_int_eq(f.ev.fin, 3);
  fx_close(&f);
}
END_TEST

/* A stall and then a cut: the cut waits for the next response, not the stalled one. */
START_TEST(cut_after_stall_takes_the_next_response) {
  struct fx f;
  fx_open(&f, 0);
  char err[256];
  ck_assert_int_eq(netem_fault_add_spec(f.p, "stall:body=5000,ms=100", NULL, err, sizeof err), 0);
  ck_assert_int_eq(netem_fault_add_spec(f.p, "cut:body=9000", NULL, err, sizeof err), 0);
  struct client c;
  client_start(&c, &f.loop, netem_proxy_port(f.p), "GET /20000 HTTP/1.1\r\n\r\nGET /20000 HTTP/1.1\r\n\r\n", 0);
  ck_assert(run_until(&f, client_done, &c, 5000));
  ck_assert_uint_eq(c.len, 2 * head_len(20000) + 20000 + 9000);
  ck_assert_int_eq(f.ev.stall, 1);
  ck_assert_int_eq(f.ev.fin, 1);
  free(c.got);
  fx_close(&f);
}
END_TEST

static void wake_up(uv_timer_t *t) { (void)t; }

static int no_conn(void *arg) { return netem_proxy_conn_count(arg) == 0; }

START_TEST(reset_acts_at_once_on_open_connections) {
  struct fx f;
  fx_open(&f, 0);
  char err[256];
  ck_assert_int_eq(netem_fault_add_spec(f.p, "stall:body=1000", NULL, err, sizeof err), 0);
  struct client c;
  client_start(&c, &f.loop, netem_proxy_port(f.p), "GET /100000 HTTP/1.1\r\n\r\n", 0);
  uv_timer_t wake; /* run_until blocks in the loop: something must wake it */
  uv_timer_init(&f.loop, &wake);
  uv_timer_start(&wake, wake_up, 50, 50); /* repeating: the loop wakes until the deadline */
  ck_assert(run_until(&f, client_done, &c, 300) == 0); /* held by the stall */
  uv_close((uv_handle_t *)&wake, NULL);
  ck_assert_uint_eq(netem_proxy_conn_count(f.p), 1);
  ck_assert_uint_eq(netem_proxy_reset(f.p), 1);
  ck_assert_uint_eq(netem_proxy_conn_count(f.p), 0); /* now, not on a later loop turn */
  netem_fault_clear(f.p); /* a clear right after cannot undo it */
  ck_assert(run_until(&f, client_done, &c, 5000));
  ck_assert_int_eq(c.done, 2);
  ck_assert_int_eq(c.err, UV_ECONNRESET);
  ck_assert_uint_eq(c.len, head_len(100000) + 1000);
  ck_assert_int_eq(f.ev.rst, 1);
  free(c.got);
  fx_close(&f);
}
END_TEST

/* The client closes during a stall; the stall is released into the closed connection:
   those bytes never reach it and are not counted. */
START_TEST(body_counter_excludes_bytes_after_the_client_closed) {
  struct fx f;
  fx_open(&f, 0);
  char err[256];
  ck_assert_int_eq(netem_fault_add_spec(f.p, "stall:body=50000", NULL, err, sizeof err), 0);
  struct client c;
  client_start(&c, &f.loop, netem_proxy_port(f.p), "GET /200000 HTTP/1.1\r\n\r\n", head_len(200000) + 50000);
  ck_assert(run_until(&f, client_done, &c, 5000));
  ck_assert_int_eq(c.done, 3); /* it closed after 50000 body bytes */
  uv_run(&f.loop, UV_RUN_NOWAIT);
  netem_fault_clear(f.p); /* the held bytes go out into the closed connection */
  ck_assert(run_until(&f, no_conn, f.p, 5000));
  ck_assert_uint_eq(netem_proxy_body_delivered(f.p), 50000);
  free(c.got);
  fx_close(&f);
}
END_TEST

int main(void) {
  /* as netem-standalone does: the zero-copy path runs only when SIGPIPE is ignored */
  signal(SIGPIPE, SIG_IGN);
  Suite *s = suite_create("netem_proxy");
  TCase *tc = tcase_create("proxy");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, passthrough_and_keepalive_corrupt_every_response);
  tcase_add_test(tc, cut_once_exact_then_next_response_whole);
  tcase_add_test(tc, stall_until_cleared_and_body_watch);
  tcase_add_test(tc, stall_applies_backpressure);
  tcase_add_test(tc, throttle_and_latency);
  tcase_add_test(tc, bad_faults_are_refused_and_close_with_open_conns);
  tcase_add_test(tc, splice_forwards_bodies_and_parses_every_head);
  tcase_add_test(tc, fault_added_midway_applies_at_its_offsets);
  tcase_add_test(tc, cuts_act_in_the_order_added);
  tcase_add_test(tc, cut_after_stall_takes_the_next_response);
  tcase_add_test(tc, reset_acts_at_once_on_open_connections);
  tcase_add_test(tc, body_counter_excludes_bytes_after_the_client_closed);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
