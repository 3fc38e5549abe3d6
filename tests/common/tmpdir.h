/* tmpdir: a scratch directory per test case, for Check fixtures.
 *
 * Header-only (static inline), so a test program includes it with
 * `#include "../common/tmpdir.h"` and needs no library or include path:
 *
 *   static char dir[256];
 *   static void setup(void) { tmpdir_make(dir, sizeof dir, "otadev-unit"); }
 *   static void teardown(void) { tmpdir_remove(dir); }
 */
#ifndef OTAHIL_TESTS_TMPDIR_H
#define OTAHIL_TESTS_TMPDIR_H

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Makes a new directory /tmp/<prefix>-XXXXXX and writes its path into `dir`;
 * fails the test when it cannot. */
static inline void tmpdir_make(char *dir, size_t len, const char *prefix) {
  ck_assert_int_lt(snprintf(dir, len, "/tmp/%s-XXXXXX", prefix), (int)len);
  ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp %s failed", dir);
}

static inline int tmpdir__remove_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(p);
}

/* Removes `dir` and everything in it (symbolic links, not what they point
 * at); fails the test when something stays behind. */
static inline void tmpdir_remove(const char *dir) {
  ck_assert_msg(nftw(dir, tmpdir__remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0, "cannot remove %s", dir);
}

#endif
