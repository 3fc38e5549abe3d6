/* The console's transports on real parts: a pseudo-terminal, a serial port that
 * is a symlink to a pty which goes away and comes back, and a TCP console server
 * that drops the connection and answers like ser2net when the device is away.
 * Every wait runs the loop with a deadline. */
#include <check.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>

#include "uart_console.h"

static double mult(void) {
  const char *m = getenv("OTAHIL_TIMEOUT_MULTIPLIER");
  double v = m ? strtod(m, NULL) : 1;
  return v > 0 ? v : 1;
}

typedef struct seen {
  char lines[64][128];
  int nlines;
  int downs, ups;
  console_gap gap;
  char why[256];
} seen;

static void on_line(void *arg, const char *line, size_t len) {
  seen *s = arg;
  (void)len;
  if (s->nlines < 64) snprintf(s->lines[s->nlines++], sizeof s->lines[0], "%s", line);
}
static void on_down(void *arg, const char *why, uint64_t offset) {
  seen *s = arg;
  (void)offset;
  s->downs++;
  if (getenv("UART_TEST_DEBUG")) fprintf(stderr, "down: offset %llu why %s\n", (unsigned long long)offset, why);
  snprintf(s->why, sizeof s->why, "%s", why);
}
static void on_up(void *arg, const console_gap *g) {
  seen *s = arg;
  s->ups++;
  s->gap = *g;
  if (getenv("UART_TEST_DEBUG")) fprintf(stderr, "up: offset %llu why %s\n", (unsigned long long)g->offset, g->why);
  snprintf(s->why, sizeof s->why, "%s", g->why);
}

static uv_loop_t loop;

static void tick_cb(uv_timer_t *t) { (void)t; }

/* Runs the loop until *flag >= want or `seconds` (scaled) pass. */
static int run_until(const int *flag, int want, double seconds) {
  uint64_t end = uv_hrtime() + (uint64_t)(seconds * mult() * 1e9);
  uv_timer_t tick; /* keeps the loop waking up to look at the deadline */
  uv_timer_init(&loop, &tick);
  uv_timer_start(&tick, tick_cb, 10, 10);
  while (*flag < want && uv_hrtime() < end) uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  return *flag >= want;
}

static void pause_loop(double seconds) {
  int never = 0;
  run_until(&never, 1, seconds);
}

static void close_console(console *c) {
  console_close(c);
  pause_loop(0.05); /* its handles close on the next turns of the loop */
}

static void setup(void) { ck_assert_int_eq(uv_loop_init(&loop), 0); }
static void teardown(void) {
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0); /* no handle left open */
}

/* The capture's text, NUL-terminated (for strstr). */
static const char *captured(console *c) {
  size_t len;
  return uart_capture_peek(console_capture(c), 0, &len, NULL);
}

START_TEST(pty_lines_and_send) {
  seen s = {0};
  console_config cfg = {.transport = CONSOLE_PTY};
  console_callbacks cb = {on_line, on_down, on_up, &s};
  console *c;
  char err[256];
  ck_assert_int_eq(console_open(&loop, &cfg, &cb, &c, err, sizeof err), 0);
  int dev = console_slave_fd(c);
  ck_assert_int_ge(dev, 0);
  ck_assert_ptr_nonnull(strstr(console_describe(c), "pty /dev/pts/"));
  ck_assert_int_eq(write(dev, "hello\r\nwor", 10), 10);
  ck_assert(run_until(&s.nlines, 1, 5));
  ck_assert_int_eq(write(dev, "ld\r\n", 4), 4);
  ck_assert(run_until(&s.nlines, 2, 5));
  ck_assert_str_eq(s.lines[0], "hello");
  ck_assert_str_eq(s.lines[1], "world");
  ck_assert_uint_eq(console_bytes(c), 14);
  ck_assert(console_last_rx(c) > 0);
  /* bytes to the device arrive on its side */
  ck_assert_int_eq(console_send(c, "reboot\n", 7, err, sizeof err), 0);
  char buf[16] = "";
  for (int i = 0; i < 100 && !buf[0]; i++) {
    ssize_t n = read(dev, buf, sizeof buf - 1);
    if (n > 0) buf[n] = 0;
    else usleep(10000);
  }
  ck_assert_str_eq(buf, "reboot\n");
  /* a partial line is delivered by a flush */
  ck_assert_int_eq(write(dev, "tail", 4), 4);
  pause_loop(0.1);
  console_flush(c);
  ck_assert_int_eq(s.nlines, 3);
  ck_assert_str_eq(s.lines[2], "tail");
  ck_assert_int_eq(s.downs, 0);
  close_console(c);
}
END_TEST

/* A "board" behind a pty whose slave is reached by a symlink: like a USB-serial
 * adapter, it can go away and come back as another device node. */
typedef struct board {
  int master, slave;
  char link[256];
} board;

static void board_plug(board *b) {
  char name[128];
  ck_assert_int_eq(openpty(&b->master, &b->slave, name, NULL, NULL), 0);
  struct termios tio;
  tcgetattr(b->slave, &tio);
  cfmakeraw(&tio);
  tcsetattr(b->slave, TCSANOW, &tio);
  unlink(b->link);
  ck_assert_int_eq(symlink(name, b->link), 0);
}

static void board_unplug(board *b) {
  unlink(b->link);
  close(b->master);
  close(b->slave);
}

static void board_say(board *b, const char *text) {
  ck_assert_int_eq(write(b->master, text, strlen(text)), (ssize_t)strlen(text));
}

START_TEST(serial_port_goes_away_and_comes_back) {
  board b;
  snprintf(b.link, sizeof b.link, "/tmp/otahil-uart-test-%d-ttyUSB0", (int)getpid());
  unlink(b.link);
  seen s = {0};
  console_config cfg = {.transport = CONSOLE_SERIAL, .port = b.link, .baud = 115200, .retry_s = 0.05};
  console_callbacks cb = {on_line, on_down, on_up, &s};
  console *c;
  char err[256];
  /* the port is not there yet: the console waits for it */
  ck_assert_int_eq(console_open(&loop, &cfg, &cb, &c, err, sizeof err), 0);
  ck_assert_int_eq(console_is_up(c), 0);
  pause_loop(0.15);
  ck_assert_int_eq(console_send(c, "x", 1, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "No such file"));
  board_plug(&b);
  ck_assert(run_until(&s.ups, 1, 5)); /* first open after waiting: a gap from the start */
  board_say(&b, "line 1\r\nline 2\r\n");
  ck_assert(run_until(&s.nlines, 2, 5));
  /* the adapter goes away */
  board_unplug(&b);
  ck_assert(run_until(&s.downs, 1, 5));
  ck_assert_uint_eq(console_bytes(c), 16);
  pause_loop(0.2);
  /* it comes back, and the board talks before the console has reopened it */
  board_plug(&b);
  board_say(&b, "line 3\r\n");
  ck_assert(run_until(&s.ups, 2, 5));
  board_say(&b, "line 4\r\n");
  ck_assert(run_until(&s.nlines, 4, 5));
  for (int i = 0; i < 4; i++) {
    char want[16];
    snprintf(want, sizeof want, "line %d", i + 1);
    ck_assert_str_eq(s.lines[i], want);
  }
  ck_assert_uint_eq(s.gap.offset, 16);
  ck_assert(s.gap.up_at - s.gap.down_at >= 0.2);
  ck_assert_ptr_nonnull(strstr(s.why, b.link));
  /* writes reach the board */
  ck_assert_int_eq(console_send(c, "hi", 2, err, sizeof err), 0);
  char buf[8] = "";
  for (int i = 0; i < 100 && !buf[0]; i++) {
    ssize_t n = read(b.master, buf, sizeof buf - 1);
    if (n > 0) buf[n] = 0;
    else usleep(10000);
  }
  ck_assert_str_eq(buf, "hi");
  close_console(c);
  board_unplug(&b);
}
END_TEST

START_TEST(serial_bad_settings_are_reported) {
  board b;
  snprintf(b.link, sizeof b.link, "/tmp/otahil-uart-test-%d-ttyS9", (int)getpid());
  board_plug(&b);
  seen s = {0};
  console_config cfg = {.transport = CONSOLE_SERIAL, .port = b.link, .baud = 12345, .retry_s = 0.05};
  console_callbacks cb = {on_line, on_down, on_up, &s};
  console *c;
  char err[256];
  ck_assert_int_eq(console_open(&loop, &cfg, &cb, &c, err, sizeof err), 0);
  pause_loop(0.1);
  ck_assert_int_eq(console_is_up(c), 0);
  ck_assert_int_eq(console_send(c, "x", 1, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "baud is not a standard rate"));
  close_console(c);
  board_unplug(&b);
}
END_TEST

/* ---- a TCP console server ------------------------------------------------ */

typedef struct server {
  uv_tcp_t listener;
  uv_tcp_t *client;
  int mode; /* 0: serve, 1: answer like ser2net without its device */
  int accepted;
  char got[256];
  size_t ngot;
} server;

static void srv_free(uv_handle_t *h) { free(h); }

static void srv_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  server *sv = st->data;
  if (n > 0 && sv->ngot + (size_t)n < sizeof sv->got) {
    memcpy(sv->got + sv->ngot, buf->base, (size_t)n);
    sv->ngot += (size_t)n;
  }
  free(buf->base);
}

static void srv_alloc(uv_handle_t *h, size_t n, uv_buf_t *b) {
  (void)h;
  b->base = malloc(n);
  b->len = n;
}

static void srv_write(server *sv, const char *text) {
  uv_buf_t b = uv_buf_init((char *)text, (unsigned)strlen(text));
  ck_assert_int_eq(uv_try_write((uv_stream_t *)sv->client, &b, 1), (int)strlen(text));
}

static void srv_drop(server *sv) {
  if (sv->client) uv_close((uv_handle_t *)sv->client, srv_free);
  sv->client = NULL;
}

static void srv_conn(uv_stream_t *l, int status) {
  server *sv = l->data;
  ck_assert_int_eq(status, 0);
  uv_tcp_t *cl = malloc(sizeof *cl);
  uv_tcp_init(&loop, cl);
  cl->data = sv;
  ck_assert_int_eq(uv_accept(l, (uv_stream_t *)cl), 0);
  srv_drop(sv);
  sv->client = cl;
  sv->accepted++;
  if (sv->mode == 1) {
    srv_write(sv, "Device open failure: Value or file not found\r\n");
    srv_drop(sv);
    return;
  }
  uv_read_start((uv_stream_t *)cl, srv_alloc, srv_read);
}

static int srv_start(server *sv) {
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_init(&loop, &sv->listener);
  sv->listener.data = sv;
  ck_assert_int_eq(uv_tcp_bind(&sv->listener, (struct sockaddr *)&a, 0), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&sv->listener, 8, srv_conn), 0);
  struct sockaddr_in got;
  int len = sizeof got;
  uv_tcp_getsockname(&sv->listener, (struct sockaddr *)&got, &len);
  return ntohs(got.sin_port);
}

START_TEST(tcp_reconnects_and_ignores_server_errors) {
  server sv = {0};
  sv.mode = 1; /* the device is away: the server says so and closes */
  int port = srv_start(&sv);
  seen s = {0};
  console_config cfg = {.transport = CONSOLE_TCP, .host = "127.0.0.1", .tcp_port = port, .retry_s = 0.05};
  console_callbacks cb = {on_line, on_down, on_up, &s};
  console *c;
  char err[256];
  ck_assert_int_eq(console_open(&loop, &cfg, &cb, &c, err, sizeof err), 0);
  ck_assert(run_until(&sv.accepted, 3, 5));
  /* the server's complaint is not console output */
  ck_assert_uint_eq(console_bytes(c), 0);
  ck_assert_int_eq(s.nlines, 0);
  ck_assert_int_eq(s.ups, 0);
  /* the device is back */
  sv.mode = 0;
  ck_assert(run_until(&s.ups, 1, 5));
  ck_assert_ptr_nonnull(strstr(s.why, "Device open failure"));
  srv_write(&sv, "U-Boot\r\nlogin: ");
  ck_assert(run_until(&s.nlines, 1, 5));
  ck_assert_str_eq(s.lines[0], "U-Boot");
  ck_assert_int_eq(console_send(c, "root\n", 5, err, sizeof err), 0);
  int want = 5;
  int got = 0;
  uint64_t end = uv_hrtime() + (uint64_t)(5e9 * mult());
  while ((got = (int)sv.ngot) < want && uv_hrtime() < end) uv_run(&loop, UV_RUN_ONCE);
  ck_assert_int_eq(memcmp(sv.got, "root\n", 5), 0);
  /* the server drops the connection: a gap, then the stream goes on */
  int accepted = sv.accepted;
  srv_drop(&sv);
  ck_assert(run_until(&s.downs, 1, 5));
  ck_assert_ptr_nonnull(strstr(s.why, "closed the connection"));
  ck_assert(run_until(&sv.accepted, accepted + 1, 5));
  ck_assert(run_until(&s.ups, 2, 5));
  srv_write(&sv, "root\r\n# ");
  ck_assert(run_until(&s.nlines, 2, 5));
  /* the partial line before the gap and the bytes after it are one stream */
  ck_assert_str_eq(s.lines[1], "login: root");
  ck_assert_str_eq(captured(c), "U-Boot\r\nlogin: root\r\n# ");
  ck_assert_uint_eq(s.gap.offset, 15);
  close_console(c);
  srv_drop(&sv);
  uv_close((uv_handle_t *)&sv.listener, NULL);
}
END_TEST

START_TEST(tcp_nothing_listening) {
  /* a port nobody listens on: refused, retried, and closing stops it */
  server sv = {0};
  int port = srv_start(&sv);
  uv_close((uv_handle_t *)&sv.listener, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  seen s = {0};
  console_config cfg = {.transport = CONSOLE_TCP, .host = "127.0.0.1", .tcp_port = port, .retry_s = 0.05};
  console_callbacks cb = {on_line, on_down, on_up, &s};
  console *c;
  char err[256];
  ck_assert_int_eq(console_open(&loop, &cfg, &cb, &c, err, sizeof err), 0);
  pause_loop(0.3);
  ck_assert_int_eq(console_send(c, "x", 1, err, sizeof err), -1);
  ck_assert_msg(strstr(err, "refused") != NULL, "%s", err);
  close_console(c);
  /* a config without a port is refused at once */
  console_config bad = {.transport = CONSOLE_TCP, .host = "127.0.0.1"};
  ck_assert_int_eq(console_open(&loop, &bad, &cb, &c, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "tcp_port"));
}
END_TEST

int main(void) {
  Suite *s = suite_create("uart_console");
  TCase *tc = tcase_create("transports");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30 * mult());
  tcase_add_test(tc, pty_lines_and_send);
  tcase_add_test(tc, serial_port_goes_away_and_comes_back);
  tcase_add_test(tc, serial_bad_settings_are_reported);
  tcase_add_test(tc, tcp_reconnects_and_ignores_server_errors);
  tcase_add_test(tc, tcp_nothing_listening);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
