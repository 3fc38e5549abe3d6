/* The login hold (netem.h, opts.login_hold) on a real loop with real sockets: a raw MQTT
 * client sends a CONNECT (and a PINGREQ before its CONNACK), the test decides, and checks
 * byte for byte what the upstream and the client got. Each test ends with no live handle. */
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "netem.h"

struct sink { /* an upstream that keeps what it reads */
  uv_tcp_t listener, conn;
  int accepted, port;
  uint8_t got[4096];
  size_t len;
};

struct peer { /* the device: sends `out`, keeps what comes back until EOF */
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_write_t wreq;
  uint8_t out[512], got[512];
  size_t out_len, len;
  int eof;
};

struct world {
  uv_loop_t loop;
  struct sink up;
  struct peer dev;
  netem_proxy *p;
  uint64_t login_conn;
  int logins, done;
  char client_id[64], username[64], reason[128], action[16];
  uint8_t password[64];
  size_t password_len;
  int code, level;
};

static void alloc_cb(uv_handle_t *h, size_t s, uv_buf_t *b) {
  (void)h;
  *b = uv_buf_init(malloc(s), (unsigned)s);
}

static void sink_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  struct sink *k = s->data;
  if (n > 0 && k->len + (size_t)n <= sizeof k->got) memcpy(k->got + k->len, b->base, (size_t)n), k->len += (size_t)n;
  if (n < 0) uv_read_stop(s);
  free(b->base);
}

static void sink_accept(uv_stream_t *l, int status) {
  struct sink *k = l->data;
  ck_assert_int_eq(status, 0);
  uv_tcp_init(l->loop, &k->conn);
  k->conn.data = k;
  ck_assert_int_eq(uv_accept(l, (uv_stream_t *)&k->conn), 0);
  k->accepted = 1;
  uv_read_start((uv_stream_t *)&k->conn, alloc_cb, sink_read);
}

static void on_event(const struct netem_event *e, void *user) {
  struct world *w = user;
  if (e->kind == NETEM_EV_MQTT_LOGIN) {
    w->logins++;
    w->login_conn = e->conn_id;
    w->level = e->protocol_level;
    snprintf(w->client_id, sizeof w->client_id, "%s", e->client_id);
    snprintf(w->username, sizeof w->username, "%.*s", (int)e->username_len, e->username);
    w->password_len = e->password_len < sizeof w->password ? e->password_len : sizeof w->password;
    memcpy(w->password, e->password, w->password_len);
  } else if (e->kind == NETEM_EV_MQTT_LOGIN_DONE) {
    snprintf(w->action, sizeof w->action, "%s", e->action);
    snprintf(w->reason, sizeof w->reason, "%s", e->detail ? e->detail : "");
    w->code = e->status;
  }
}

static void peer_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  struct peer *d = s->data;
  if (n > 0 && d->len + (size_t)n <= sizeof d->got) memcpy(d->got + d->len, b->base, (size_t)n), d->len += (size_t)n;
  if (n < 0) {
    d->eof = 1;
    uv_read_stop(s);
  }
  free(b->base);
}

static void peer_connected(uv_connect_t *r, int status) {
  struct peer *d = r->data;
  ck_assert_int_eq(status, 0);
  uv_buf_t b = uv_buf_init((char *)d->out, (unsigned)d->out_len);
  uv_write(&d->wreq, (uv_stream_t *)&d->tcp, &b, 1, NULL);
  uv_read_start((uv_stream_t *)&d->tcp, alloc_cb, peer_read);
}

static size_t put_str(uint8_t *p, const char *s, size_t n) {
  p[0] = (uint8_t)(n >> 8), p[1] = (uint8_t)n;
  memcpy(p + 2, s, n);
  return 2 + n;
}

/* CONNECT (level 4 or 5: with a will and properties) with user "u1" and a password holding
 * a NUL byte, then a PINGREQ. */
static size_t build(uint8_t *out, int level) {
  uint8_t v[256];
  size_t k = put_str(v, "MQTT", 4);
  v[k++] = (uint8_t)level;
  v[k++] = 0x80 | 0x40 | 0x04 | 0x02; /* user, password, will, clean */
  v[k++] = 0, v[k++] = 60;
  if (level >= 5) v[k++] = 5, v[k++] = 0x11, v[k++] = 0, v[k++] = 0, v[k++] = 0, v[k++] = 30; /* session expiry */
  k += put_str(v + k, "dev-1", 5);
  if (level >= 5) v[k++] = 0; /* will properties */
  k += put_str(v + k, "will/t", 6);
  k += put_str(v + k, "bye", 3);
  k += put_str(v + k, "u1", 2);
  k += put_str(v + k, "p\0w", 3);
  size_t n = 0;
  out[n++] = 0x10, out[n++] = (uint8_t)k;
  memcpy(out + n, v, k);
  n += k;
  out[n++] = 0xC0, out[n++] = 0x00; /* PINGREQ */
  return n;
}

static void setup(struct world *w, int level, uint64_t timeout_ms) {
  memset(w, 0, sizeof *w);
  uv_loop_init(&w->loop);
  uv_tcp_init(&w->loop, &w->up.listener);
  w->up.listener.data = &w->up;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  ck_assert_int_eq(uv_tcp_bind(&w->up.listener, (struct sockaddr *)&a, 0), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&w->up.listener, 4, sink_accept), 0);
  int al = sizeof a;
  uv_tcp_getsockname(&w->up.listener, (struct sockaddr *)&a, &al);
  struct netem_proxy_opts o = {.name = "t/mqtt", .listen_host = "127.0.0.1", .upstream_host = "127.0.0.1",
                               .upstream_port = ntohs(a.sin_port), .view = NETEM_VIEW_MQTT, .on_event = on_event,
                               .user = w, .login_hold = 1, .login_timeout_ms = timeout_ms};
  char err[256];
  ck_assert_msg(netem_proxy_open(&w->loop, &o, &w->p, err, sizeof err) == 0, "%s", err);
  w->dev.out_len = build(w->dev.out, level);
  uv_tcp_init(&w->loop, &w->dev.tcp);
  w->dev.tcp.data = w->dev.creq.data = &w->dev;
  uv_ip4_addr("127.0.0.1", netem_proxy_port(w->p), &a);
  uv_tcp_connect(&w->dev.creq, &w->dev.tcp, (struct sockaddr *)&a, peer_connected);
}

/* Runs the loop until cond() or 3 s. */
static void run_until(struct world *w, int (*cond)(struct world *)) {
  uint64_t end = uv_hrtime() + 3000000000ull;
  while (!cond(w) && uv_hrtime() < end) uv_run(&w->loop, UV_RUN_NOWAIT), uv_sleep(1);
}

static int held(struct world *w) { return w->logins == 1; }
static int dev_eof(struct world *w) { return w->dev.eof; }
static int up_has_all(struct world *w) { return w->up.len == w->dev.out_len; }

static void closed(void *u) { *(int *)u = 1; }

static void teardown(struct world *w) {
  int done = 0;
  netem_proxy_close(w->p, closed, &done);
  uv_close((uv_handle_t *)&w->dev.tcp, NULL);
  if (w->up.accepted) uv_close((uv_handle_t *)&w->up.conn, NULL);
  uv_close((uv_handle_t *)&w->up.listener, NULL);
  for (int i = 0; i < 1000 && uv_run(&w->loop, UV_RUN_NOWAIT); i++) uv_sleep(1);
  ck_assert_int_eq(done, 1);
  ck_assert_int_eq(uv_loop_close(&w->loop), 0); /* no handle left */
}

START_TEST(held_then_accepted_unchanged) {
  struct world w;
  setup(&w, 4, 5000);
  run_until(&w, held);
  ck_assert_int_eq(w.logins, 1);
  ck_assert_str_eq(w.client_id, "dev-1");
  ck_assert_str_eq(w.username, "u1");
  ck_assert_int_eq(w.password_len, 3);
  ck_assert_int_eq(memcmp(w.password, "p\0w", 3), 0);
  uv_sleep(50);
  uv_run(&w.loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(w.up.len, 0); /* held: the broker saw nothing */
  ck_assert_int_eq(netem_proxy_login(w.p, w.login_conn, NETEM_LOGIN_ACCEPT, "ok"), 0);
  run_until(&w, up_has_all);
  ck_assert_int_eq(w.up.len, w.dev.out_len); /* the CONNECT and the PINGREQ, unchanged, in order */
  ck_assert_int_eq(memcmp(w.up.got, w.dev.out, w.dev.out_len), 0);
  ck_assert_str_eq(w.action, "accept");
  ck_assert_int_eq(netem_proxy_login(w.p, w.login_conn, NETEM_LOGIN_ACCEPT, NULL), UV_ENOENT);
  teardown(&w);
}
END_TEST

START_TEST(refused_v5_with_0x86) {
  struct world w;
  setup(&w, 5, 5000);
  run_until(&w, held);
  ck_assert_int_eq(w.logins, 1);
  ck_assert_str_eq(w.username, "u1"); /* found behind the properties and the v5 will */
  ck_assert_int_eq(w.level, 5);
  ck_assert_int_eq(netem_proxy_login(w.p, w.login_conn, NETEM_LOGIN_BAD_CREDENTIALS, "wrong"), 0);
  run_until(&w, dev_eof);
  const uint8_t want[] = {0x20, 0x03, 0x00, 0x86, 0x00};
  ck_assert_int_eq(w.dev.len, sizeof want);
  ck_assert_int_eq(memcmp(w.dev.got, want, sizeof want), 0);
  ck_assert_int_eq(w.up.len, 0);
  ck_assert_str_eq(w.action, "refuse");
  ck_assert_int_eq(w.code, 0x86);
  ck_assert_str_eq(w.reason, "wrong");
  teardown(&w);
}
END_TEST

START_TEST(undecided_is_refused_at_the_timeout) {
  struct world w;
  setup(&w, 4, 200);
  uint64_t t0 = uv_hrtime();
  run_until(&w, dev_eof);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  ck_assert_msg(ms >= 200, "refused after %llu ms, before the timeout", (unsigned long long)ms);
  const uint8_t want[] = {0x20, 0x02, 0x00, 0x05};
  ck_assert_int_eq(w.dev.len, sizeof want);
  ck_assert_int_eq(memcmp(w.dev.got, want, sizeof want), 0);
  ck_assert_int_eq(w.up.len, 0);
  ck_assert_str_eq(w.reason, "no login decision within 200 ms");
  ck_assert_int_eq(netem_proxy_login(w.p, w.login_conn, NETEM_LOGIN_ACCEPT, NULL), UV_ENOENT);
  teardown(&w);
}
END_TEST

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  Suite *s = suite_create("netem_login");
  TCase *tc = tcase_create("hold");
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, held_then_accepted_unchanged);
  tcase_add_test(tc, refused_v5_with_0x86);
  tcase_add_test(tc, undecided_is_refused_at_the_timeout);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
