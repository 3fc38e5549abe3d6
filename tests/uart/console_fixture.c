/* The console tests' loop, callback record and console server (see
 * console_fixture.h). */
#include "console_fixture.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uv_loop_t test_loop;

void fixture_setup(void) { ck_assert_int_eq(uv_loop_init(&test_loop), 0); }

void fixture_teardown(void) {
  uv_run(&test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&test_loop), 0); /* no handle left open */
}

double test_mult(void) {
  const char *m = getenv("OTAHIL_TIMEOUT_MULTIPLIER");
  double v = m ? strtod(m, NULL) : 1;
  return v > 0 ? v : 1;
}

static void tick_cb(uv_timer_t *t) { (void)t; }

int run_until_fn(int (*done)(void *), void *arg, double seconds) {
  uint64_t end = uv_hrtime() + (uint64_t)(seconds * test_mult() * 1e9);
  uv_timer_t tick; /* keeps the loop waking up to look at the deadline */
  uv_timer_init(&test_loop, &tick);
  uv_timer_start(&tick, tick_cb, 10, 10);
  while (!done(arg) && uv_hrtime() < end) uv_run(&test_loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(&test_loop, UV_RUN_NOWAIT);
  return done(arg);
}

typedef struct at_least {
  const int *flag;
  int want;
} at_least;

static int reached(void *arg) {
  const at_least *a = arg;
  return *a->flag >= a->want;
}

int run_until(const int *flag, int want, double seconds) {
  at_least a = {flag, want};
  return run_until_fn(reached, &a, seconds);
}

static int never(void *arg) {
  (void)arg;
  return 0;
}

void pause_loop(double seconds) { run_until_fn(never, NULL, seconds); }

console *open_console(const console_config *cfg, seen *s) {
  console_callbacks cb = seen_callbacks(s);
  console *c = NULL;
  char err[256] = "";
  ck_assert_msg(console_open(&test_loop, cfg, &cb, &c, err, sizeof err) == 0, "console_open: %s", err);
  return c;
}

void close_console(console *c) {
  console_close(c);
  pause_loop(0.05);
}

static void seen_line(void *arg, const char *line, size_t len) {
  seen *s = arg;
  (void)len;
  if (s->nlines < 64) snprintf(s->lines[s->nlines++], sizeof s->lines[0], "%s", line);
}

static void seen_down(void *arg, const char *why, uint64_t offset) {
  seen *s = arg;
  s->downs++;
  if (getenv("UART_TEST_DEBUG")) fprintf(stderr, "down: offset %llu why %s\n", (unsigned long long)offset, why);
  snprintf(s->why, sizeof s->why, "%s", why);
}

static void seen_up(void *arg, const console_gap *g) {
  seen *s = arg;
  s->ups++;
  s->gap = *g;
  if (getenv("UART_TEST_DEBUG")) fprintf(stderr, "up: offset %llu why %s\n", (unsigned long long)g->offset, g->why);
  snprintf(s->why, sizeof s->why, "%s", g->why);
}

console_callbacks seen_callbacks(seen *s) { return (console_callbacks){seen_line, seen_down, seen_up, s}; }

int seen_is_up(void *console) { return console_is_up(console); }

/* ---- the server ---------------------------------------------------------- */

static void srv_free(uv_handle_t *h) { free(h); }

static void srv_alloc(uv_handle_t *h, size_t n, uv_buf_t *b) {
  (void)h;
  b->base = malloc(n);
  b->len = n;
}

static void srv_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  test_server *sv = st->data;
  if (n > 0 && sv->ngot + (size_t)n < sizeof sv->got) {
    memcpy(sv->got + sv->ngot, buf->base, (size_t)n);
    sv->ngot += (size_t)n;
  }
  free(buf->base);
}

void srv_write(test_server *sv, const void *data, size_t len) {
  uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
  ck_assert_int_eq(uv_try_write((uv_stream_t *)sv->client, &b, 1), (int)len);
}

void srv_say(test_server *sv, const char *text) { srv_write(sv, text, strlen(text)); }

void srv_drop(test_server *sv) {
  if (sv->client) uv_close((uv_handle_t *)sv->client, srv_free);
  sv->client = NULL;
}

static void srv_conn(uv_stream_t *l, int status) {
  test_server *sv = l->data;
  ck_assert_int_eq(status, 0);
  uv_tcp_t *cl = malloc(sizeof *cl);
  uv_tcp_init(&test_loop, cl);
  cl->data = sv;
  ck_assert_int_eq(uv_accept(l, (uv_stream_t *)cl), 0);
  srv_drop(sv);
  sv->client = cl;
  sv->accepted++;
  sv->ngot = 0;
  if (sv->away) {
    srv_say(sv, "Device open failure: Value or file not found\r\n");
    srv_drop(sv);
    return;
  }
  if (sv->nhello) srv_write(sv, sv->hello, sv->nhello);
  uv_read_start((uv_stream_t *)cl, srv_alloc, srv_read);
}

int srv_start(test_server *sv) {
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_init(&test_loop, &sv->listener);
  sv->listener.data = sv;
  ck_assert_int_eq(uv_tcp_bind(&sv->listener, (struct sockaddr *)&a, 0), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&sv->listener, 8, srv_conn), 0);
  struct sockaddr_in got;
  int len = sizeof got;
  uv_tcp_getsockname(&sv->listener, (struct sockaddr *)&got, &len);
  return ntohs(got.sin_port);
}

static void srv_listener_closed(uv_handle_t *h) { ((test_server *)h->data)->accepted = -1; }
static int srv_closed(void *arg) { return ((test_server *)arg)->accepted == -1; }

/* The server lives on the test's stack: its handles are closed before it returns. */
void srv_stop(test_server *sv) {
  srv_drop(sv);
  uv_close((uv_handle_t *)&sv->listener, srv_listener_closed);
  ck_assert(run_until_fn(srv_closed, sv, 5));
}

int srv_has(void *arg) {
  const srv_want *w = arg;
  if (w->sv->ngot < w->len) return 0;
  for (size_t i = 0; i + w->len <= w->sv->ngot; i++)
    if (memcmp(w->sv->got + i, w->bytes, w->len) == 0) return 1;
  return 0;
}
