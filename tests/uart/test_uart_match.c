/* The capture buffer and the matcher: a match split over reads or sent a byte at
 * a time is found; readers keep their own cursors; a regex matches across the
 * boundary between two chunks; memory stays bounded. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "uart_capture.h"
#include "uart_match.h"

static uart_match *compile(const char *pat, int plain) {
  uart_match *m = NULL;
  char err[256] = "";
  ck_assert_msg(uart_match_new(pat, strlen(pat), plain, &m, err, sizeof err) == 0, "%s", err);
  return m;
}

/* The text of a span. */
static char *text(uart_capture *c, uart_span s) {
  size_t len;
  const char *p = uart_capture_peek(c, s.start, &len, NULL);
  ck_assert_uint_ge(len, (size_t)(s.end - s.start));
  return strndup(p, (size_t)(s.end - s.start));
}

START_TEST(plain_split_across_reads) {
  uart_capture *c = uart_capture_new(0);
  uart_match *m = compile("login:", 1);
  uint64_t cur = 0;
  uart_span sp[1];
  uart_capture_append(c, "boot ok\r\nlog", 12);
  ck_assert_int_eq(uart_match_next(m, c, &cur, sp, 1), 0);
  ck_assert_uint_eq(cur, 0); /* nothing consumed while waiting */
  uart_capture_append(c, "in", 2);
  ck_assert_int_eq(uart_match_next(m, c, &cur, sp, 1), 0);
  uart_capture_append(c, ": ", 2);
  ck_assert_int_eq(uart_match_next(m, c, &cur, sp, 1), 1);
  ck_assert_uint_eq(sp[0].start, 9);
  ck_assert_uint_eq(sp[0].end, 15);
  ck_assert_uint_eq(cur, 15);
  ck_assert_int_eq(uart_match_next(m, c, &cur, sp, 1), 0); /* found once */
  uart_match_free(m);
  uart_capture_free(c);
}
END_TEST

START_TEST(one_byte_writes) {
  const char *stream = "U-Boot 2024.01\r\nHit any key to stop autoboot:  3 \r\nStarting kernel ...\r\n";
  for (int plain = 0; plain <= 1; plain++) {
    uart_capture *c = uart_capture_new(0);
    uart_match *m = compile(plain ? "to stop autoboot" : "autoboot: +([0-9]+)", plain);
    uint64_t cur = 0;
    uart_span sp[2];
    int found = 0;
    size_t at = 0;
    for (size_t i = 0; stream[i] && !found; i++) {
      uart_capture_append(c, stream + i, 1);
      found = uart_match_next(m, c, &cur, sp, 2);
      at = i;
    }
    ck_assert_int_eq(found, 1);
    char *whole = text(c, sp[0]);
    if (plain) {
      ck_assert_str_eq(whole, "to stop autoboot");
      ck_assert_uint_eq(at, strstr(stream, "autoboot") - stream + 7);
    } else {
      /* found as soon as the digit came: nothing later is needed */
      ck_assert_str_eq(whole, "autoboot:  3");
      ck_assert_uint_eq(at, strstr(stream, "3 ") - stream);
      char *g = text(c, sp[1]);
      ck_assert_str_eq(g, "3");
      free(g);
    }
    free(whole);
    uart_match_free(m);
    uart_capture_free(c);
  }
}
END_TEST

START_TEST(two_readers_independent) {
  uart_capture *c = uart_capture_new(0);
  uart_match *ma = compile("version ([0-9.]+)", 0), *mb = compile("version ([0-9.]+)", 0);
  uint64_t a = 0, b = 0;
  uart_span sp[2];
  uart_capture_append(c, "version 1.0.0\r\nversion 2.0.0\r\n", 30);
  /* reader a consumes both; reader b still sees the first */
  ck_assert_int_eq(uart_match_next(ma, c, &a, sp, 2), 1);
  char *v = text(c, sp[1]);
  ck_assert_str_eq(v, "1.0.0");
  free(v);
  ck_assert_int_eq(uart_match_next(ma, c, &a, sp, 2), 1);
  v = text(c, sp[1]);
  ck_assert_str_eq(v, "2.0.0");
  free(v);
  ck_assert_int_eq(uart_match_next(ma, c, &a, sp, 2), 0);
  ck_assert_int_eq(uart_match_next(mb, c, &b, sp, 2), 1);
  v = text(c, sp[1]);
  ck_assert_str_eq(v, "1.0.0");
  free(v);
  ck_assert_uint_lt(b, a);
  /* a fork of a cursor goes on from the same place */
  uint64_t fork = b;
  ck_assert_int_eq(uart_match_next(mb, c, &b, sp, 2), 1);
  ck_assert_int_eq(uart_match_next(ma, c, &fork, sp, 2), 1);
  ck_assert_uint_eq(fork, b);
  uart_match_free(ma);
  uart_match_free(mb);
  uart_capture_free(c);
}
END_TEST

START_TEST(regex_across_chunk_boundary) {
  uart_capture *c = uart_capture_new(0);
  uart_match *m = compile("Kernel pa[n]ic - not syncing: (.*)\r", 0);
  uint64_t cur = 0;
  uart_span sp[2];
  uart_capture_append(c, "[    1.234] Kernel pa", 21);
  ck_assert_int_eq(uart_match_next(m, c, &cur, sp, 2), 0);
  uart_capture_append(c, "nic - not sync", 14);
  ck_assert_int_eq(uart_match_next(m, c, &cur, sp, 2), 0);
  uart_capture_append(c, "ing: VFS\r\n", 10);
  ck_assert_int_eq(uart_match_next(m, c, &cur, sp, 2), 1);
  char *g = text(c, sp[1]);
  ck_assert_str_eq(g, "VFS");
  free(g);
  ck_assert_uint_eq(sp[0].start, 12);
  uart_match_free(m);
  uart_capture_free(c);
}
END_TEST

START_TEST(lines_and_anchors) {
  uart_capture *c = uart_capture_new(0);
  uart_match *m = compile("^# $", 0);
  uint64_t cur = 0;
  uart_span sp[1];
  /* '$' waits for the line end: "# " alone may still grow */
  uart_capture_append(c, "a # \r\n# ", 8);
  ck_assert_int_eq(uart_match_next(m, c, &cur, sp, 1), 0);
  uart_capture_append(c, "\n", 1);
  ck_assert_int_eq(uart_match_next(m, c, &cur, sp, 1), 1);
  ck_assert_uint_eq(sp[0].start, 6);
  uart_match_free(m);
  /* '.' does not cross a line end; a pattern with a newline does */
  m = compile("a.b", 0);
  cur = 0;
  uart_capture_append(c, "a\nb", 3);
  ck_assert_int_eq(uart_match_next(m, c, &cur, sp, 1), 0);
  uart_match_free(m);
  m = compile("a\nb", 0);
  cur = 0;
  ck_assert_int_eq(uart_match_next(m, c, &cur, sp, 1), 1);
  uart_match_free(m);
  /* '^' at a cursor in the middle of a line does not hold */
  m = compile("^b", 0);
  cur = uart_capture_end(c) - 1; /* at the "b" after "a\n": a line start */
  ck_assert_int_eq(uart_match_next(m, c, &cur, sp, 1), 1);
  uart_capture_append(c, "xb", 2);
  cur = uart_capture_end(c) - 1; /* at "b" after "x" */
  ck_assert_int_eq(uart_match_next(m, c, &cur, sp, 1), 0);
  uart_match_free(m);
  uart_capture_free(c);
}
END_TEST

START_TEST(bad_patterns) {
  uart_match *m = NULL;
  char err[256];
  ck_assert_int_eq(uart_match_new("(unclosed", 9, 0, &m, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "bad regex '(unclosed'"));
  ck_assert_int_eq(uart_match_new("", 0, 1, &m, err, sizeof err), -1);
  /* plain text may hold any byte, a NUL too */
  ck_assert_int_eq(uart_match_new("a\0b", 3, 1, &m, err, sizeof err), 0);
  uart_capture *c = uart_capture_new(0);
  uart_capture_append(c, "xxa\0b", 5);
  uint64_t cur = 0;
  uart_span sp[1];
  ck_assert_int_eq(uart_match_next(m, c, &cur, sp, 1), 1);
  ck_assert_uint_eq(sp[0].start, 2);
  uart_match_free(m);
  uart_capture_free(c);
}
END_TEST

START_TEST(bounded_memory_and_forget) {
  uart_capture *c = uart_capture_new(1000);
  char chunk[300];
  memset(chunk, 'x', sizeof chunk);
  for (int i = 0; i < 10; i++) uart_capture_append(c, chunk, sizeof chunk);
  ck_assert_uint_eq(uart_capture_end(c), 3000);
  ck_assert_uint_eq(uart_capture_start(c), 2000);
  /* a reader left behind moves up to what is held */
  uart_match *m = compile("y", 1);
  uint64_t cur = 5;
  uart_span sp[1];
  ck_assert_int_eq(uart_match_next(m, c, &cur, sp, 1), 0);
  ck_assert_uint_eq(cur, 2000);
  uart_capture_append(c, "y", 1);
  ck_assert_int_eq(uart_match_next(m, c, &cur, sp, 1), 1);
  ck_assert_uint_eq(sp[0].start, 3000);
  uart_capture_forget(c, 2900);
  ck_assert_uint_eq(uart_capture_start(c), 2900);
  size_t len;
  uart_capture_peek(c, 0, &len, NULL);
  ck_assert_uint_eq(len, 101);
  uart_match_free(m);
  uart_capture_free(c);
}
END_TEST


static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A console that keeps its capture full (a flooding device): each append drops
 * the oldest bytes. That must cost about the bytes appended, not a copy of the
 * whole capture per append (8 MiB per 4 KiB read: 160 GB for these 80 MB). */
START_TEST(full_capture_appends_cheaply) {
  const size_t limit = 8u << 20;
  uart_capture *c = uart_capture_new(limit);
  static char chunk[4096];
  memset(chunk, 'x', sizeof chunk);
  double t0 = mono_s(), budget = 5;
  const char *m = getenv("OTAHIL_TIMEOUT_MULTIPLIER");
  if (m && strtod(m, NULL) > 1) budget *= strtod(m, NULL);
  size_t i, n = (80u << 20) / sizeof chunk;
  for (i = 0; i < n && mono_s() - t0 < budget; i++) {
    chunk[0] = (char)('a' + i % 26);
    uart_capture_append(c, chunk, sizeof chunk);
  }
  ck_assert_msg(i == n, "only %zu of %zu appends in %.0f s", i, n, budget);
  ck_assert_uint_eq(uart_capture_end(c), (uint64_t)n * sizeof chunk);
  ck_assert_uint_eq(uart_capture_start(c), (uint64_t)n * sizeof chunk - limit);
  size_t len;
  const char *p = uart_capture_peek(c, 0, &len, NULL);
  ck_assert_uint_eq(len, limit);
  ck_assert_int_eq(p[len - sizeof chunk], (char)('a' + (n - 1) % 26)); /* the newest, in place */
  ck_assert_int_eq(p[len], 0);
  uart_capture_forget(c, uart_capture_end(c) - 10);
  p = uart_capture_peek(c, 0, &len, NULL);
  ck_assert_uint_eq(len, 10);
  ck_assert_int_eq(p[len], 0);
  uart_capture_free(c);
}
END_TEST

START_TEST(tail_for_messages) {
  uart_capture *c = uart_capture_new(0);
  const char *s = "one\r\ntwo\r\nthree\r\nfour\x01\r\nfiv";
  uart_capture_append(c, s, strlen(s));
  char out[256];
  uart_capture_tail(c, 0, 3, out, sizeof out);
  ck_assert_str_eq(out, "three | four. | fiv");
  uart_capture_tail(c, 0, 10, out, sizeof out);
  ck_assert_str_eq(out, "one | two | three | four. | fiv");
  uart_capture_tail(c, uart_capture_end(c), 3, out, sizeof out);
  ck_assert_str_eq(out, "");
  char small[12];
  uart_capture_tail(c, 0, 3, small, sizeof small);
  ck_assert_uint_lt(strlen(small), sizeof small);
  uart_capture_free(c);
}
END_TEST

/* A long chatty stream without a match is searched in linear time: each new
 * byte is looked at a bounded number of times (the matcher resumes). */
START_TEST(long_stream_resumes) {
  uart_capture *c = uart_capture_new(0);
  uart_match *m = compile("needle [0-9]+", 0);
  uint64_t cur = 0;
  uart_span sp[1];
  char line[64];
  for (int i = 0; i < 20000; i++) {
    int n = snprintf(line, sizeof line, "[%6d] hay hay hay hay hay\r\n", i);
    uart_capture_append(c, line, (size_t)n);
    ck_assert_int_eq(uart_match_next(m, c, &cur, sp, 1), 0);
  }
  uart_capture_append(c, "needle 42\r\n", 11);
  ck_assert_int_eq(uart_match_next(m, c, &cur, sp, 1), 1);
  uart_match_free(m);
  uart_capture_free(c);
}
END_TEST

int main(void) {
  Suite *s = suite_create("uart_match");
  TCase *tc = tcase_create("capture");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, plain_split_across_reads);
  tcase_add_test(tc, one_byte_writes);
  tcase_add_test(tc, two_readers_independent);
  tcase_add_test(tc, regex_across_chunk_boundary);
  tcase_add_test(tc, lines_and_anchors);
  tcase_add_test(tc, bad_patterns);
  tcase_add_test(tc, bounded_memory_and_forget);
  tcase_add_test(tc, full_capture_appends_cheaply);
  tcase_add_test(tc, tail_for_messages);
  tcase_add_test(tc, long_stream_resumes);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
