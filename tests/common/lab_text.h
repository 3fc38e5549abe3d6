/* lab_text: Check helpers for tests of the lab loader (harness/lab/lab.h): a lab
 * file written from a string into the test's scratch directory, and the
 * assertion that a wrong one fails with one line naming where (one text, or a
 * table of them), and lab/examples/rack.lua loaded from a copy.
 *
 * Header-only (static inline): `#include "../common/lab_text.h"`; the test
 * program links otahil_core (which also defines OTAHIL_SOURCE_DIR). */
#ifndef OTAHIL_TESTS_LAB_TEXT_H
#define OTAHIL_TESTS_LAB_TEXT_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab.h"

/* Writes `text` as DIR/NAME and loads it with DIR as the lab's base
 * directory. Returns lab_load's result (0, or -1 with err). */
static inline int lab_text_load(const char *dir, const char *name, const char *text, lab **out, char *err,
                                size_t errlen) {
  char path[512];
  ck_assert_int_lt(snprintf(path, sizeof path, "%s/%s", dir, name), (int)sizeof path);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  return lab_load(path, dir, out, err, errlen);
}

/* Asserts that `text` does not load and that the error is one line holding
 * both `where` (e.g. "lab.lua:3: device 'b1'") and `what`. */
static inline void lab_text_expect_error(const char *dir, const char *name, const char *text, const char *where,
                                         const char *what) {
  lab *l = NULL;
  char err[1024] = "";
  ck_assert_int_eq(lab_text_load(dir, name, text, &l, err, sizeof err), -1);
  ck_assert_ptr_null(l);
  ck_assert_msg(strstr(err, where) != NULL, "'%s' lacks '%s'", err, where);
  ck_assert_msg(strstr(err, what) != NULL, "'%s' lacks '%s'", err, what);
  ck_assert_msg(strchr(err, '\n') == NULL, "'%s' is not one line", err);
}

/* One wrong lab per case: `text` goes where `format` has its one %s, and the
 * lab must fail with `where` and the case's `what` (lab_text_expect_error). */
typedef struct lab_text_case {
  const char *text, *what;
} lab_text_case;

static inline void lab_text_expect_errors(const char *dir, const char *name, const char *format, const char *where,
                                          const lab_text_case *cases, size_t count) {
  for (size_t i = 0; i < count; i++) {
    char text[2048];
    ck_assert_int_lt(snprintf(text, sizeof text, format, cases[i].text), (int)sizeof text);
    lab_text_expect_error(dir, name, text, where, cases[i].what);
  }
}

/* Copies lab/examples/rack.lua into `dir` with an empty file for each of its
 * firmware images (it names files that only a real rack has), and loads it;
 * fails the test when it does not load. The caller frees the lab. */
static inline lab *lab_text_load_rack_example(const char *dir) {
  char cmd[1024];
  ck_assert_int_lt(snprintf(cmd, sizeof cmd,
                            "cp '%s/lab/examples/rack.lua' '%s/' && mkdir -p '%s/fw' && cd '%s/fw' && "
                            "touch b1-1.0.0.bin b1-2.0.0.bin b1-2.9.0-fail-boot.bin b1-2.8.0-fail-burn.bin b2-2.0.0.bin",
                            OTAHIL_SOURCE_DIR, dir, dir, dir),
                   (int)sizeof cmd);
  ck_assert_int_eq(system(cmd), 0);
  char path[512], err[1024] = "";
  ck_assert_int_lt(snprintf(path, sizeof path, "%s/rack.lua", dir), (int)sizeof path);
  lab *l = NULL;
  ck_assert_msg(lab_load(path, dir, &l, err, sizeof err) == 0, "%s", err);
  return l;
}

#endif
