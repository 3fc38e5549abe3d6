/* case_path: one file per case id, inside the report, whatever the id holds. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "case_path.h"
#include "../common/check_run.h"

static void path_of(const char *id, char *out) {
  ck_assert_int_eq(case_path(id, out, 2 * (CASE_PATH_PART_MAX + 1)), 0);
}

START_TEST(plain_ids_stay_readable) {
  char p[512];
  path_of("qcloud/03_resume_after_cut@emu-qcloud", p);
  ck_assert_str_eq(p, "qcloud/03_resume_after_cut@emu-qcloud");
  path_of("qcloud/03_resume_after_cut[cut=0.5]@emu-qcloud", p);
  ck_assert_str_eq(p, "qcloud/03_resume_after_cut[cut=0.5]@emu-qcloud");
}
END_TEST

/* the collisions the '/' -> '-' mapping had (devices x/y and x-y; scenarios
 * a/b-c.lua and a-b/c.lua) */
START_TEST(distinct_ids_never_share_a_file) {
  static const char *const ids[] = {"s/t@x/y", "s/t@x-y", "a/b-c@d", "a-b/c@d", "a/b%2Fc@d", "a/b/c@d",
                                    "a/..@d", "a/.hidden@d", "a/x y@d", "a/x%20y@d", "nosuite@d", "-/nosuite@d"};
  char p[12][512];
  for (int i = 0; i < 12; i++) path_of(ids[i], p[i]);
  for (int i = 0; i < 12; i++)
    for (int j = i + 1; j < 12; j++) ck_assert_msg(strcmp(p[i], p[j]) != 0, "%s and %s share %s", ids[i], ids[j], p[i]);
}
END_TEST

START_TEST(nothing_climbs_out) {
  char p[512];
  path_of("../../etc/passwd@d", p);
  ck_assert_msg(strstr(p, "..") == NULL || p[0] != '.', "%s", p);
  ck_assert_msg(p[0] != '.' && strchr(strchr(p, '/') + 1, '/') == NULL, "%s", p);
  path_of("x/\n\r\x01\xff@d", p);
  for (const char *c = p; *c; c++) ck_assert_msg(*c > 32 && *c < 127, "byte %02x in %s", (unsigned char)*c, p);
}
END_TEST

START_TEST(long_ids_are_bounded_and_still_distinct) {
  char a[2000], b[2000], pa[512], pb[512];
  memset(a, 'x', sizeof a - 1), a[sizeof a - 1] = 0;
  a[0] = 's', a[1] = '/';
  memcpy(b, a, sizeof a);
  b[1500] = 'y';
  path_of(a, pa);
  path_of(b, pb);
  ck_assert_int_le(strlen(pa), 2 * CASE_PATH_PART_MAX + 1);
  ck_assert_str_ne(pa, pb);
}
END_TEST

int main(void) {
  Suite *s = suite_create("case_path");
  TCase *tc = tcase_create("path");
  tcase_add_test(tc, plain_ids_stay_readable);
  tcase_add_test(tc, distinct_ids_never_share_a_file);
  tcase_add_test(tc, nothing_climbs_out);
  tcase_add_test(tc, long_ids_are_bounded_and_still_distinct);
  suite_add_tcase(s, tc);
  return check_run(s);
}
