/* The serial relay under a flood: a module that writes without pause into a
 * line whose bytes a drop fault takes (t.serial:drop{count = 0}, the SOTA
 * "line dead" scenarios). The dropped bytes never reach the queue, so the
 * high-water mark never stops the read; here the module writes 8 KiB more each
 * time the relay has dropped 4 KiB (every read finds more, at any load), and a
 * 20 ms timer must still fire about on time. */
#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "../common/check_run.h"
#include "serial_relay.h"

typedef struct flood {
  uv_loop_t loop;
  serial_relay *r;
  int a;          /* the module's side, non-blocking */
  uint64_t until; /* the module writes until then (uv_hrtime) */
  uint64_t drops; /* bytes dropped */
  uint64_t fired;
} flood;

static double mult(void) {
  const char *m = getenv("OTAHIL_TIMEOUT_MULTIPLIER");
  double v = m ? strtod(m, NULL) : 1;
  return v > 0 ? v : 1;
}

static void module_write(flood *f) {
  static uint8_t buf[8192];
  if (uv_hrtime() < f->until && write(f->a, buf, sizeof buf) < 0) return; /* full: EAGAIN */
}

static void on_event(const serial_event *e, void *user) {
  flood *f = user;
  f->drops += e->count;
  if (f->drops % 4096 == 0) module_write(f);
}

static void on_timer(uv_timer_t *t) {
  flood *f = t->data;
  if (!f->fired) f->fired = uv_hrtime();
}

START_TEST(a_dropped_flood_leaves_the_loop_free) {
  flood f = {0};
  ck_assert_int_eq(uv_loop_init(&f.loop), 0);
  char err[256];
  ck_assert_int_eq(serial_relay_open(&f.loop, 1, on_event, &f, &f.r, err, sizeof err), 0);
  f.a = open(serial_relay_path_a(f.r), O_RDWR | O_NOCTTY | O_NONBLOCK);
  ck_assert_int_ge(f.a, 0);
  serial_fault sf = {.kind = SERIAL_DROP, .dir = SERIAL_DOWN, .count = 0};
  ck_assert_int_eq(serial_relay_fault_add(f.r, &sf, NULL, err, sizeof err), 0);
  f.until = uv_hrtime() + (uint64_t)(2e9 * mult());
  module_write(&f);
  uv_timer_t t;
  uv_timer_init(&f.loop, &t);
  t.data = &f;
  uint64_t started = uv_hrtime();
  uv_timer_start(&t, on_timer, 20, 0);
  while (!f.fired) uv_run(&f.loop, UV_RUN_ONCE);
  double late = (double)(f.fired - started) / 1e9;
  f.until = 0;
  uv_close((uv_handle_t *)&t, NULL);
  close(f.a);
  serial_relay_close(f.r, NULL, NULL);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&f.loop), 0);
  ck_assert_msg(late < 0.5 * mult(), "a 20 ms timer fired after %.3f s of flood", late);
  ck_assert_uint_gt(f.drops, 8192);
}
END_TEST

int main(void) {
  Suite *s = suite_create("relay_flood");
  TCase *tc = tcase_create("flood");
  tcase_set_timeout(tc, 30 * mult());
  tcase_add_test(tc, a_dropped_flood_leaves_the_loop_free);
  suite_add_tcase(s, tc);
  return check_run(s);
}
