/* Lab files: every mistake is one line with file:line, the device and the key. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab.h"

static char dir[256];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/otahil-lab-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
}

/* Writes `text` as DIR/lab.lua and loads it; returns lab_load's result. */
static int load(const char *text, lab **out, char *err, size_t errlen) {
  char path[300];
  snprintf(path, sizeof path, "%s/lab.lua", dir);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  return lab_load(path, dir, out, err, errlen);
}

#define GOOD_HEAD "device \"b1\" {\n  dialect = \"qcloud\", product = \"P\", device = \"d\", version = \"1.0.0\",\n"

static void expect_error(const char *text, const char *where, const char *what) {
  lab *l = NULL;
  char err[1024] = "";
  ck_assert_int_eq(load(text, &l, err, sizeof err), -1);
  ck_assert_ptr_null(l);
  ck_assert_msg(strstr(err, where) != NULL, "'%s' lacks '%s'", err, where);
  ck_assert_msg(strstr(err, what) != NULL, "'%s' lacks '%s'", err, what);
  ck_assert_msg(strchr(err, '\n') == NULL, "'%s' is not one line", err);
}

START_TEST(a_good_lab_loads) {
  lab *l = NULL;
  char err[1024] = "";
  int rc = load("-- two devices\n" GOOD_HEAD "  cmd = {\"/bin/true\"},\n"
                "  images = { good = { [\"2.0.0\"] = otadev_image{ version = \"2.0.0\", size = 4096 } } },\n"
                "  timing = { boot = 2 },\n}\n"
                "device \"b2\" { dialect = \"qcloud\", product = \"P\", device = \"e\", version = \"1\", cmd = {\"x\"} }\n",
                &l, err, sizeof err);
  ck_assert_msg(rc == 0, "%s", err);
  ck_assert_int_eq(l->count, 2);
  ck_assert_str_eq(l->devices[0].name, "b1");
  ck_assert_int_eq(l->devices[0].line, 2);
  ck_assert_str_eq(lab_str(&l->devices[1], "device"), "e");
  const cJSON *good = cJSON_GetObjectItem(cJSON_GetObjectItem(l->devices[0].spec, "images"), "good");
  const char *img = cJSON_GetObjectItem(good, "2.0.0")->valuestring;
  ck_assert_int_eq(access(img, R_OK), 0);
  lab_free(l);
}
END_TEST

START_TEST(unknown_key) {
  expect_error("\n\n" GOOD_HEAD "  cmd = {\"x\"}, powr = 1 }\n", "lab.lua:3: device 'b1'", "key 'powr' is unknown (dialect, product");
}
END_TEST

START_TEST(missing_key) {
  expect_error("device \"b1\" { dialect = \"qcloud\", product = \"P\", version = \"1\", cmd = {\"x\"} }\n",
               "lab.lua:1: device 'b1'", "key 'device' is missing");
}
END_TEST

START_TEST(wrong_type) {
  expect_error(GOOD_HEAD "  cmd = \"otadev --x\" }\n", "lab.lua:1: device 'b1'", "cmd must be a non-empty list");
  expect_error(GOOD_HEAD "  cmd = {\"x\"}, timing = { boot = \"slow\" } }\n", "lab.lua:1:", "timing.boot must be a number");
}
END_TEST

START_TEST(unknown_dialect) {
  expect_error("device \"b1\" { dialect = \"tencent\", product = \"P\", device = \"d\", version = \"1\", cmd = {\"x\"} }\n",
               "lab.lua:1: device 'b1'", "dialect 'tencent' is unknown (qcloud, aliyun");
}
END_TEST

START_TEST(missing_image_file) {
  expect_error(GOOD_HEAD "  cmd = {\"x\"}, images = { good = { [\"2.0.0\"] = \"fw/nothing.bin\" } } }\n",
               "lab.lua:1: device 'b1'", "fw/nothing.bin' does not exist");
}
END_TEST

START_TEST(twice_and_syntax) {
  expect_error("device \"b1\" { dialect = \"qcloud\", product = \"P\", device = \"d\", version = \"1\", cmd = {\"x\"} }\n"
               "device \"b1\" { dialect = \"qcloud\", product = \"P\", device = \"d\", version = \"1\", cmd = {\"x\"} }\n",
               "lab.lua:2: device 'b1'", "declared twice (first at line 1)");
  expect_error("device \"b1\" {\n  dialect = \"qcloud\"\n  product = 1\n", "lab.lua:3:", "expected");
  expect_error("-- nothing\n", "lab.lua", "no device declared");
}
END_TEST

START_TEST(missing_lab_file) {
  lab *l = NULL;
  char err[512];
  ck_assert_int_eq(lab_load("/nonexistent/lab.lua", "/tmp", &l, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "/nonexistent/lab.lua"));
}
END_TEST

int main(void) {
  Suite *s = suite_create("lab");
  TCase *tc = tcase_create("errors");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, a_good_lab_loads);
  tcase_add_test(tc, unknown_key);
  tcase_add_test(tc, missing_key);
  tcase_add_test(tc, wrong_type);
  tcase_add_test(tc, unknown_dialect);
  tcase_add_test(tc, missing_image_file);
  tcase_add_test(tc, twice_and_syntax);
  tcase_add_test(tc, missing_lab_file);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
