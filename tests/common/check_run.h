/* check_run: the end of every Check test program's main.
 *
 * Header-only (static inline): `#include "../common/check_run.h"`, then
 * `return check_run(s);` once the suite holds its test cases. */
#ifndef OTAHIL_TESTS_CHECK_RUN_H
#define OTAHIL_TESTS_CHECK_RUN_H

#include <check.h>

/* Runs every test of `s` (Check's normal output; CK_FORK etc. as usual) and
 * frees it. Returns the program's exit status: 0 when all passed, else 1. */
static inline int check_run(Suite *s) {
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}

#endif
