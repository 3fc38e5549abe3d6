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
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "../common/check_run.h"
#include "console_fixture.h"
#include "uart_console.h"

/* The capture's text, NUL-terminated (for strstr). */
static const char *captured(console *c) {
  size_t len;
  return uart_capture_peek(console_capture(c), 0, &len, NULL);
}

static int seen_has_after(void *con) {
  size_t len;
  const char *p = uart_capture_peek(console_capture(con), 0, &len, NULL);
  return len >= 7 && memcmp(p + len - 7, "after\r\n", 7) == 0;
}

START_TEST(pty_lines_and_send) {
  seen s = {0};
  console_config cfg = {.transport = CONSOLE_PTY};
  console *c = open_console(&cfg, &s);
  char err[256];
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
  /* the port is not there yet: the console waits for it */
  console *c = open_console(&cfg, &s);
  char err[256];
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
  console *c = open_console(&cfg, &s);
  char err[256];
  pause_loop(0.1);
  ck_assert_int_eq(console_is_up(c), 0);
  ck_assert_int_eq(console_send(c, "x", 1, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "baud is not a standard rate"));
  close_console(c);
  board_unplug(&b);
}
END_TEST

/* ---- a TCP console server ------------------------------------------------ */

START_TEST(tcp_reconnects_and_ignores_server_errors) {
  test_server sv = {0};
  sv.away = 1; /* the device is away: the server says so and closes */
  int port = srv_start(&sv);
  seen s = {0};
  console_config cfg = {.transport = CONSOLE_TCP, .host = "127.0.0.1", .tcp_port = port, .retry_s = 0.05};
  console *c = open_console(&cfg, &s);
  char err[256];
  ck_assert(run_until(&sv.accepted, 3, 5));
  /* the server's complaint is not console output */
  ck_assert_uint_eq(console_bytes(c), 0);
  ck_assert_int_eq(s.nlines, 0);
  ck_assert_int_eq(s.ups, 0);
  /* the device is back */
  sv.away = 0;
  ck_assert(run_until(&s.ups, 1, 5));
  ck_assert_ptr_nonnull(strstr(s.why, "Device open failure"));
  srv_say(&sv, "U-Boot\r\nlogin: ");
  ck_assert(run_until(&s.nlines, 1, 5));
  ck_assert_str_eq(s.lines[0], "U-Boot");
  ck_assert_int_eq(console_send(c, "root\n", 5, err, sizeof err), 0);
  srv_want root = {&sv, "root\n", 5};
  run_until_fn(srv_has, &root, 5);
  ck_assert_int_eq(memcmp(sv.got, "root\n", 5), 0);
  /* the server drops the connection: a gap, then the stream goes on */
  int accepted = sv.accepted;
  srv_drop(&sv);
  ck_assert(run_until(&s.downs, 1, 5));
  ck_assert_ptr_nonnull(strstr(s.why, "closed the connection"));
  ck_assert(run_until(&sv.accepted, accepted + 1, 5));
  ck_assert(run_until(&s.ups, 2, 5));
  srv_say(&sv, "root\r\n# ");
  ck_assert(run_until(&s.nlines, 2, 5));
  /* the partial line before the gap and the bytes after it are one stream */
  ck_assert_str_eq(s.lines[1], "login: root");
  ck_assert_str_eq(captured(c), "U-Boot\r\nlogin: root\r\n# ");
  ck_assert_uint_eq(s.gap.offset, 15);
  close_console(c);
  srv_stop(&sv);
}
END_TEST

START_TEST(tcp_nothing_listening) {
  /* a port nobody listens on: refused, retried, and closing stops it */
  test_server sv = {0};
  int port = srv_start(&sv);
  srv_stop(&sv);
  seen s = {0};
  console_config cfg = {.transport = CONSOLE_TCP, .host = "127.0.0.1", .tcp_port = port, .retry_s = 0.05};
  console_callbacks cb = seen_callbacks(&s);
  console *c = open_console(&cfg, &s);
  char err[256];
  pause_loop(0.3);
  ck_assert_int_eq(console_send(c, "x", 1, err, sizeof err), -1);
  ck_assert_msg(strstr(err, "refused") != NULL, "%s", err);
  close_console(c);
  /* a config without a port is refused at once */
  console_config bad = {.transport = CONSOLE_TCP, .host = "127.0.0.1"};
  ck_assert_int_eq(console_open(&test_loop, &bad, &cb, &c, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "tcp_port"));
}
END_TEST


/* ---- floods ---------------------------------------------------------------
 * A board that writes without pause, faster than the console reads: here the
 * board is a listener that writes 8 KiB into the terminal each time the
 * console has read (so every read finds more, at any load of the machine), for
 * `seconds`. A read loop that waits for EAGAIN holds the loop for as long. */

typedef struct flood {
  int fd; /* the board's side, non-blocking */
  uint64_t until; /* uv_hrtime */
} flood;

static void flood_write(void *arg) {
  flood *f = arg;
  if (uv_hrtime() >= f->until) return;
  char buf[8192];
  memset(buf, 'x', sizeof buf);
  for (size_t i = 63; i < sizeof buf; i += 64) buf[i] = '\n';
  if (write(f->fd, buf, sizeof buf) < 0) return; /* EAGAIN: the terminal is full */
}

/* What the loop did while the board flooded: the most bytes captured in one
 * turn (a uv_check runs once per turn), and when a 20 ms timer fired. */
typedef struct turns {
  uv_check_t check;
  uv_timer_t timer;
  console *c;
  uint64_t last, most;
  uint64_t started, fired; /* uv_hrtime */
} turns;

static void turns_check_cb(uv_check_t *h) {
  turns *k = h->data;
  uint64_t now = console_bytes(k->c);
  if (now - k->last > k->most) k->most = now - k->last;
  k->last = now;
}

static void turns_timer_cb(uv_timer_t *t) {
  turns *k = t->data;
  if (!k->fired) k->fired = uv_hrtime();
}

static int turns_fired(void *arg) { return ((turns *)arg)->fired != 0; }

/* While the board floods the console, no turn of the loop reads more than the
 * budget, and a 20 ms timer fires about on time. */
static void timer_fires_during_flood(console *c, int board_fd) {
  flood f = {board_fd, uv_hrtime() + (uint64_t)(2e9 * test_mult())};
  fcntl(board_fd, F_SETFL, fcntl(board_fd, F_GETFL) | O_NONBLOCK);
  console_listener *l = console_listen(c, flood_write, &f);
  turns k = {.c = c, .last = console_bytes(c)};
  uv_check_init(&test_loop, &k.check);
  uv_timer_init(&test_loop, &k.timer);
  k.check.data = k.timer.data = &k;
  uv_check_start(&k.check, turns_check_cb);
  flood_write(&f); /* the first bytes; the console's reads bring the rest */
  k.started = uv_hrtime();
  uv_timer_start(&k.timer, turns_timer_cb, 20, 0);
  run_until_fn(turns_fired, &k, 10);
  double late = (double)(k.fired - k.started) / 1e9;
  pause_loop(0.5); /* more turns under the flood */
  f.until = 0;
  console_unlisten(c, l);
  uv_close((uv_handle_t *)&k.timer, NULL);
  uv_close((uv_handle_t *)&k.check, NULL);
  uv_run(&test_loop, UV_RUN_NOWAIT); /* k lives on this stack: closed before it goes */
  ck_assert_msg(k.fired && late < 0.5 * test_mult(),
                "a 20 ms timer fired after %.3f s while the board flooded", late);
  ck_assert_msg(k.most <= 64 * 1024, "one turn of the loop read %llu bytes", (unsigned long long)k.most);
  ck_assert_uint_gt(console_bytes(c), 1000000);
}

START_TEST(pty_flood_leaves_the_loop_free) {
  seen s = {0};
  console_config cfg = {.transport = CONSOLE_PTY};
  console *c = open_console(&cfg, &s);
  /* the board's own file description of the slave (so O_NONBLOCK is its own) */
  int board = open(console_describe(c) + strlen("pty "), O_RDWR | O_NOCTTY);
  ck_assert_int_ge(board, 0);
  timer_fires_during_flood(c, board);
  close(board);
  close_console(c);
}
END_TEST

START_TEST(serial_flood_leaves_the_loop_free) {
  board b;
  snprintf(b.link, sizeof b.link, "/tmp/otahil-uart-test-%d-flood", (int)getpid());
  board_plug(&b);
  seen s = {0};
  console_config cfg = {.transport = CONSOLE_SERIAL, .port = b.link, .retry_s = 0.05};
  console *c = open_console(&cfg, &s);
  ck_assert(run_until_fn(seen_is_up, c, 5));
  timer_fires_during_flood(c, b.master);
  close_console(c);
  board_unplug(&b);
}
END_TEST

/* A child that writes `fd` flat out for `seconds`, then exits. */
static pid_t flood_start(int fd, double seconds) {
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    char buf[4096];
    memset(buf, 'x', sizeof buf);
    for (size_t i = 63; i < sizeof buf; i += 64) buf[i] = '\n';
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
      if (write(fd, buf, sizeof buf) < 0) _exit(1);
      clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
    _exit(0);
  }
  return pid;
}

/* The flood guard: cap_bytes at once, then cap_rate; what is beyond is
 * dropped and counted, and a new budget (a new case) lets bytes in again. */
START_TEST(flood_guard_caps_and_counts) {
  seen s = {0};
  console_config cfg = {.transport = CONSOLE_PTY, .cap_bytes = 200000, .cap_rate = 50000};
  console *c = open_console(&cfg, &s);
  uint64_t t0 = uv_hrtime();
  pid_t kid = flood_start(console_slave_fd(c), 1);
  int st = 0;
  while (waitpid(kid, &st, WNOHANG) == 0) uv_run(&test_loop, UV_RUN_NOWAIT);
  ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  pause_loop(0.2); /* what is still in the terminal */
  double secs = (double)(uv_hrtime() - t0) / 1e9;
  uint64_t kept = console_bytes(c), dropped = console_dropped(c);
  ck_assert_msg(dropped > 1000000, "only %llu bytes dropped", (unsigned long long)dropped);
  ck_assert_msg(kept >= 200000 && kept <= 200000 + (uint64_t)(50000 * secs) + 4096,
                "%llu bytes kept in %.2f s", (unsigned long long)kept, secs);
  ck_assert_int_eq(s.downs, 0);
  /* a new budget: the next bytes are captured again, whole */
  console_budget_reset(c);
  ck_assert_int_eq(write(console_slave_fd(c), "after\r\n", 7), 7);
  ck_assert(run_until_fn(seen_has_after, c, 5));
  ck_assert_uint_eq(console_dropped(c), dropped);
  close_console(c);
}
END_TEST

int main(void) {
  Suite *s = suite_create("uart_console");
  TCase *tc = tcase_create("transports");
  tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
  tcase_set_timeout(tc, 30 * test_mult());
  tcase_add_test(tc, pty_lines_and_send);
  tcase_add_test(tc, serial_port_goes_away_and_comes_back);
  tcase_add_test(tc, serial_bad_settings_are_reported);
  tcase_add_test(tc, tcp_reconnects_and_ignores_server_errors);
  tcase_add_test(tc, tcp_nothing_listening);
  tcase_add_test(tc, pty_flood_leaves_the_loop_free);
  tcase_add_test(tc, serial_flood_leaves_the_loop_free);
  tcase_add_test(tc, flood_guard_caps_and_counts);
  suite_add_tcase(s, tc);
  return check_run(s);
}
