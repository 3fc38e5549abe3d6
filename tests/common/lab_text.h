/* lab_text: Check helpers for tests of the lab loader (harness/lab.h): a lab
 * file written from a string into the test's scratch directory, and the
 * assertion that a wrong one fails with one line naming where.
 *
 * Header-only (static inline): `#include "../common/lab_text.h"`; the test
 * program links otahil_core. */
#ifndef OTAHIL_TESTS_LAB_TEXT_H
#define OTAHIL_TESTS_LAB_TEXT_H

#include <check.h>
#include <stdio.h>
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

#endif
