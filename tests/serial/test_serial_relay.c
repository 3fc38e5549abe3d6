/* The serial relay on real ptys: the test opens both slave paths as a module
 * and an MCU would, writes on one side and reads what arrives on the other
 * while the loop runs. Each test closes the relay and asserts no handle is
 * left on the loop. */
#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "serial_relay.h"

typedef struct fixture {
  uv_loop_t loop;
  serial_relay *r;
  int a, b; /* module side, MCU side */
  serial_event evs[64];
  int nev;
} fixture;

static void on_event(const serial_event *e, void *user) {
  fixture *f = user;
  if (f->nev < 64) f->evs[f->nev++] = *e;
}

static void setup_fx(fixture *f) {
  memset(f, 0, sizeof *f);
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  char err[256];
  ck_assert_int_eq(serial_relay_open(&f->loop, 42, on_event, f, &f->r, err, sizeof err), 0);
  f->a = open(serial_relay_path_a(f->r), O_RDWR | O_NOCTTY | O_NONBLOCK);
  f->b = open(serial_relay_path_b(f->r), O_RDWR | O_NOCTTY | O_NONBLOCK);
  ck_assert_int_ge(f->a, 0);
  ck_assert_int_ge(f->b, 0);
}

static void teardown_fx(fixture *f) {
  close(f->a);
  close(f->b);
  serial_relay_close(f->r, NULL, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&f->loop), 0); /* no handle left open */
}

/* Runs the loop until `want` bytes arrived on fd (or 2 s passed); returns how many. */
static size_t pump_read(fixture *f, int fd, uint8_t *out, size_t want) {
  size_t got = 0;
  uint64_t deadline = uv_hrtime() + 2000000000ull;
  while (got < want && uv_hrtime() < deadline) {
    uv_run(&f->loop, UV_RUN_NOWAIT);
    ssize_t n = read(fd, out + got, want - got);
    if (n > 0) got += (size_t)n;
    else usleep(1000);
  }
  return got;
}

/* Runs the loop for `ms` and returns whatever arrived on fd. */
static size_t drain(fixture *f, int fd, uint8_t *out, size_t cap, int ms) {
  size_t got = 0;
  uint64_t deadline = uv_hrtime() + (uint64_t)ms * 1000000ull;
  while (uv_hrtime() < deadline) {
    uv_run(&f->loop, UV_RUN_NOWAIT);
    ssize_t n = read(fd, out + got, cap - got);
    if (n > 0) got += (size_t)n;
    else usleep(1000);
  }
  return got;
}

static void fill(uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 7 + 3);
}

START_TEST(passes_bytes_both_ways) {
  fixture f;
  setup_fx(&f);
  uint8_t in[3000], out[3000];
  fill(in, sizeof in);
  ck_assert_int_eq(write(f.a, in, sizeof in), (int)sizeof in);
  ck_assert_uint_eq(pump_read(&f, f.b, out, sizeof in), sizeof in);
  ck_assert_mem_eq(in, out, sizeof in);
  ck_assert_int_eq(write(f.b, "ACK", 3), 3);
  ck_assert_uint_eq(pump_read(&f, f.a, out, 3), 3);
  ck_assert_mem_eq(out, "ACK", 3);
  ck_assert_uint_eq(serial_relay_bytes(f.r, SERIAL_DOWN), sizeof in);
  ck_assert_uint_eq(serial_relay_bytes(f.r, SERIAL_UP), 3);
  ck_assert_int_eq(f.nev, 0);
  teardown_fx(&f);
}
END_TEST

START_TEST(corrupted_byte_arrives_changed) {
  fixture f;
  setup_fx(&f);
  uint8_t in[100], out[100];
  fill(in, sizeof in);
  /* ten bytes pass first: offsets count from when the fault is added */
  ck_assert_int_eq(write(f.a, in, 10), 10);
  ck_assert_uint_eq(pump_read(&f, f.b, out, 10), 10);
  serial_fault sf = {.kind = SERIAL_CORRUPT, .dir = SERIAL_DOWN, .n_offsets = 2, .offsets = {5, 40}};
  char err[128];
  uint32_t id = 0;
  ck_assert_int_eq(serial_relay_fault_add(f.r, &sf, &id, err, sizeof err), 0);
  ck_assert_int_eq(write(f.a, in + 10, 90), 90);
  ck_assert_uint_eq(pump_read(&f, f.b, out + 10, 90), 90);
  for (size_t i = 0; i < 100; i++) {
    if (i == 15 || i == 50) ck_assert_uint_ne(out[i], in[i]);
    else ck_assert_uint_eq(out[i], in[i]);
  }
  ck_assert_int_eq(f.nev, 2);
  ck_assert_str_eq(f.evs[0].action, "corrupt");
  ck_assert_uint_eq(f.evs[0].offset, 15);
  ck_assert_int_eq(f.evs[0].old_byte, in[15]);
  ck_assert_int_eq(f.evs[0].new_byte, out[15]);
  ck_assert_uint_eq(f.evs[1].offset, 50);
  ck_assert_uint_eq(f.evs[0].fault_id, id);
  /* the other direction is untouched */
  ck_assert_int_eq(write(f.b, in, 60), 60);
  ck_assert_uint_eq(pump_read(&f, f.a, out, 60), 60);
  ck_assert_mem_eq(in, out, 60);
  teardown_fx(&f);
}
END_TEST

START_TEST(dropped_bytes_never_arrive) {
  fixture f;
  setup_fx(&f);
  uint8_t in[64], out[64];
  fill(in, sizeof in);
  serial_fault sf = {.kind = SERIAL_DROP, .dir = SERIAL_UP, .at = 8, .count = 4};
  char err[128];
  ck_assert_int_eq(serial_relay_fault_add(f.r, &sf, NULL, err, sizeof err), 0);
  ck_assert_int_eq(write(f.b, in, sizeof in), (int)sizeof in);
  size_t got = drain(&f, f.a, out, sizeof out, 200);
  ck_assert_uint_eq(got, 60);
  ck_assert_mem_eq(out, in, 8);
  ck_assert_mem_eq(out + 8, in + 12, 52);
  ck_assert_int_eq(f.nev, 4);
  ck_assert_str_eq(f.evs[0].action, "drop");
  ck_assert_uint_eq(f.evs[0].offset, 8);
  ck_assert_uint_eq(f.evs[3].offset, 11);
  /* cleared: bytes flow again */
  serial_relay_fault_clear(f.r);
  ck_assert_int_eq(write(f.b, in, 16), 16);
  ck_assert_uint_eq(pump_read(&f, f.a, out, 16), 16);
  ck_assert_mem_eq(out, in, 16);
  teardown_fx(&f);
}
END_TEST

START_TEST(random_corruption_replays_with_the_seed) {
  uint64_t first[8];
  for (int run = 0; run < 2; run++) {
    fixture f;
    setup_fx(&f);
    serial_fault sf = {.kind = SERIAL_CORRUPT, .random = 3, .within = 500};
    char err[128];
    ck_assert_int_eq(serial_relay_fault_add(f.r, &sf, NULL, err, sizeof err), 0);
    uint8_t in[500], out[500];
    fill(in, sizeof in);
    ck_assert_int_eq(write(f.a, in, sizeof in), (int)sizeof in);
    ck_assert_uint_eq(pump_read(&f, f.b, out, sizeof in), sizeof in);
    ck_assert_int_eq(f.nev, 3);
    int diffs = 0;
    for (size_t i = 0; i < sizeof in; i++) diffs += in[i] != out[i];
    ck_assert_int_eq(diffs, 3);
    for (int i = 0; i < 3; i++) {
      if (run == 0) first[i] = f.evs[i].offset;
      else ck_assert_uint_eq(first[i], f.evs[i].offset);
    }
    teardown_fx(&f);
  }
}
END_TEST

START_TEST(a_peer_closing_does_not_hang_up_the_line) {
  fixture f;
  setup_fx(&f);
  /* the MCU loses power: its end closes, and a new process opens it again */
  close(f.b);
  drain(&f, f.a, (uint8_t[8]){0}, 8, 50);
  f.b = open(serial_relay_path_b(f.r), O_RDWR | O_NOCTTY | O_NONBLOCK);
  ck_assert_int_ge(f.b, 0);
  ck_assert_int_eq(write(f.a, "hello", 5), 5);
  uint8_t out[5];
  ck_assert_uint_eq(pump_read(&f, f.b, out, 5), 5);
  ck_assert_mem_eq(out, "hello", 5);
  teardown_fx(&f);
}
END_TEST

START_TEST(bad_faults_are_refused) {
  fixture f;
  setup_fx(&f);
  char err[128] = "";
  serial_fault none = {.kind = SERIAL_CORRUPT};
  ck_assert_int_eq(serial_relay_fault_add(f.r, &none, NULL, err, sizeof err), UV_EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "bytes, random or every"));
  serial_fault badxor = {.kind = SERIAL_CORRUPT, .every = 3, .xor_mask = 300};
  ck_assert_int_eq(serial_relay_fault_add(f.r, &badxor, NULL, err, sizeof err), UV_EINVAL);
  teardown_fx(&f);
}
END_TEST

int main(void) {
  Suite *s = suite_create("serial_relay");
  TCase *tc = tcase_create("relay");
  tcase_set_timeout(tc, 10);
  tcase_add_test(tc, passes_bytes_both_ways);
  tcase_add_test(tc, corrupted_byte_arrives_changed);
  tcase_add_test(tc, dropped_bytes_never_arrive);
  tcase_add_test(tc, random_corruption_replays_with_the_seed);
  tcase_add_test(tc, a_peer_closing_does_not_hang_up_the_line);
  tcase_add_test(tc, bad_faults_are_refused);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
