/* Unit tests of otadev's pieces that need no network: fwimage, flash/boot,
 * breakpoint, the checks all dialects share, the qcloud message parser and
 * report shape. */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/tmpdir.h"
#include "breakpoint.h"
#include "dialect.h"
#include "dialect_qcloud.h"
#include "digest.h"
#include "download.h"
#include "flash.h"
#include "fsutil.h"
#include "fwimage.h"

static char dir[256];
static char err[512];

static void setup(void) { tmpdir_make(dir, sizeof dir, "otadev-unit"); }
static void teardown(void) { tmpdir_remove(dir); }

static void path_in(char *buf, size_t len, const char *name) {
  ck_assert_int_eq(fs_join(buf, len, dir, name), 0);
}

/* ---- fwimage ---- */

START_TEST(fwimage_round_trip) {
  char p[512];
  path_in(p, sizeof p, "img.bin");
  ck_assert_int_eq(fwimage_build(p, "2.0.0", 1000, FWIMAGE_FAIL_BOOT, err, sizeof err), 0);
  ck_assert_int_eq(fs_size(p), 1000);
  fwimage_info info;
  ck_assert_msg(fwimage_check(p, &info, err, sizeof err) == 0, "%s", err);
  ck_assert_str_eq(info.version, "2.0.0");
  ck_assert_uint_eq(info.flags, FWIMAGE_FAIL_BOOT);
  ck_assert_uint_eq(info.payload_len, 1000 - FWIMAGE_HEADER_LEN);
}
END_TEST

START_TEST(fwimage_flipped_byte_fails_crc) {
  char p[512];
  path_in(p, sizeof p, "img.bin");
  ck_assert_int_eq(fwimage_build(p, "2.0.0", 4096, 0, err, sizeof err), 0);
  int fd = open(p, O_RDWR);
  ck_assert_int_ge(fd, 0);
  unsigned char b;
  ck_assert_int_eq(pread(fd, &b, 1, 2000), 1);
  b ^= 0x01;
  ck_assert_int_eq(pwrite(fd, &b, 1, 2000), 1);
  close(fd);
  fwimage_info info;
  ck_assert_int_eq(fwimage_check(p, &info, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "CRC"));
}
END_TEST

START_TEST(fwimage_truncated_and_bad_magic) {
  char p[512];
  fwimage_info info;
  path_in(p, sizeof p, "img.bin");
  ck_assert_int_eq(fwimage_build(p, "3.0.0", 4096, 0, err, sizeof err), 0);
  ck_assert_int_eq(truncate(p, 3000), 0);
  ck_assert_int_eq(fwimage_check(p, &info, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "header says"));
  FILE *f = fopen(p, "wb");
  fputs("definitely not a firmware image, but long enough to hold a header ........", f);
  fclose(f);
  ck_assert_int_eq(fwimage_check(p, &info, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "magic"));
}
END_TEST

START_TEST(fwimage_flags_and_determinism) {
  ck_assert_uint_eq(fwimage_flag_by_name("fail-boot"), FWIMAGE_FAIL_BOOT);
  ck_assert_uint_eq(fwimage_flag_by_name("fail-burn"), FWIMAGE_FAIL_BURN);
  ck_assert_uint_eq(fwimage_flag_by_name("fail-nothing"), 0);
  char a[512], b[512], c[512], ha[33], hb[33], hc[33];
  path_in(a, sizeof a, "a.bin");
  path_in(b, sizeof b, "b.bin");
  path_in(c, sizeof c, "c.bin");
  ck_assert_int_eq(fwimage_build(a, "2.0.0", 70000, 0, err, sizeof err), 0);
  ck_assert_int_eq(fwimage_build(b, "2.0.0", 70000, 0, err, sizeof err), 0);
  ck_assert_int_eq(fwimage_build(c, "2.0.1", 70000, 0, err, sizeof err), 0);
  ck_assert_int_eq(digest_md5_file(a, ha, err, sizeof err), 0);
  ck_assert_int_eq(digest_md5_file(b, hb, err, sizeof err), 0);
  ck_assert_int_eq(digest_md5_file(c, hc, err, sizeof err), 0);
  ck_assert_str_eq(ha, hb);
  ck_assert_str_ne(ha, hc);
  ck_assert_int_eq(fwimage_build(a, "", 100, 0, err, sizeof err), -1);
  ck_assert_int_eq(fwimage_build(a, "1.0", 10, 0, err, sizeof err), -1);
}
END_TEST

/* ---- flash and boot ---- */

static flash *open_flash(void) {
  flash *f = flash_open(dir, "1.0.0", err, sizeof err);
  ck_assert_msg(f != NULL, "%s", err);
  return f;
}

static void burn_into(flash *f, char slot, const char *version, uint32_t flags) {
  char p[4200];
  ck_assert_int_eq(flash_slot_path(f, slot, p, sizeof p), 0);
  ck_assert_int_eq(fwimage_build(p, version, 2048, flags, err, sizeof err), 0);
}

START_TEST(flash_factory_state) {
  flash *f = open_flash();
  flash_boot_info bi;
  ck_assert_int_eq(flash_boot(f, 0, &bi, err, sizeof err), FLASH_BOOT_OK);
  ck_assert_int_eq(bi.slot, 'a');
  ck_assert_str_eq(bi.version, "1.0.0");
  ck_assert_int_eq(bi.upgraded | bi.rolled_back, 0);
  ck_assert_int_eq(flash_inactive_slot(f), 'b');
  flash_close(f);
  /* The factory version is used only when the flash is blank. */
  f = flash_open(dir, "9.9.9", err, sizeof err);
  ck_assert_ptr_nonnull(f);
  ck_assert_str_eq(flash_active_version(f), "1.0.0");
  flash_close(f);
}
END_TEST

START_TEST(flash_pending_boots_and_becomes_active) {
  flash *f = open_flash();
  burn_into(f, 'b', "2.0.0", 0);
  ck_assert_int_eq(flash_set_pending(f, 'b', "2.0.0", err, sizeof err), 0);
  ck_assert_int_eq(flash_set_pending(f, 'a', "2.0.0", err, sizeof err), -1); /* the running slot */
  flash_close(f);
  f = open_flash(); /* what a power cycle reads back */
  flash_meta m;
  flash_get_meta(f, &m);
  ck_assert_int_eq(m.pending, 'b');
  ck_assert_int_eq(m.attempts, 0);
  ck_assert_str_eq(flash_active_version(f), "1.0.0");
  flash_boot_info bi;
  ck_assert_int_eq(flash_boot(f, 0, &bi, err, sizeof err), FLASH_BOOT_OK);
  ck_assert_int_eq(bi.upgraded, 1);
  ck_assert_int_eq(bi.slot, 'b');
  ck_assert_str_eq(bi.version, "2.0.0");
  flash_close(f);
  f = open_flash();
  flash_get_meta(f, &m);
  ck_assert_int_eq(m.active, 'b');
  ck_assert_int_eq(m.pending, 0);
  ck_assert_int_eq(m.attempts, 0);
  ck_assert_int_eq(flash_inactive_slot(f), 'a');
  flash_close(f);
}
END_TEST

START_TEST(flash_fail_boot_rolls_back) {
  flash *f = open_flash();
  burn_into(f, 'b', "2.0.0", FWIMAGE_FAIL_BOOT);
  ck_assert_int_eq(flash_set_pending(f, 'b', "2.0.0", err, sizeof err), 0);
  flash_boot_info bi;
  ck_assert_int_eq(flash_boot(f, 0, &bi, err, sizeof err), FLASH_BOOT_PANIC);
  ck_assert_str_eq(bi.failed_version, "2.0.0");
  ck_assert_ptr_nonnull(strstr(bi.msg, "failed to boot"));
  flash_close(f);
  f = open_flash(); /* attempts must be on disk */
  flash_meta m;
  flash_get_meta(f, &m);
  ck_assert_int_eq(m.pending, 'b');
  ck_assert_int_eq(m.attempts, 1);
  ck_assert_int_eq(flash_boot(f, 0, &bi, err, sizeof err), FLASH_BOOT_OK);
  ck_assert_int_eq(bi.rolled_back, 1);
  ck_assert_int_eq(bi.slot, 'a');
  ck_assert_str_eq(bi.version, "1.0.0");
  ck_assert_ptr_nonnull(strstr(bi.msg, "rollback"));
  flash_get_meta(f, &m);
  ck_assert_int_eq(m.has_failure, 1);
  ck_assert_int_eq(m.failure_reported, 0);
  ck_assert_str_eq(m.failure_version, "2.0.0");
  ck_assert_int_eq(flash_failure_reported(f, err, sizeof err), 0);
  flash_close(f);
  f = open_flash();
  flash_get_meta(f, &m);
  ck_assert_int_eq(m.failure_reported, 1);
  ck_assert_int_eq(m.pending, 0);
  /* A later boot stays on the old image. */
  ck_assert_int_eq(flash_boot(f, 0, &bi, err, sizeof err), FLASH_BOOT_OK);
  ck_assert_int_eq(bi.rolled_back, 0);
  ck_assert_str_eq(bi.version, "1.0.0");
  flash_close(f);
}
END_TEST

START_TEST(flash_corrupt_pending_image_panics) {
  flash *f = open_flash();
  burn_into(f, 'b', "2.0.0", 0);
  char p[4200];
  flash_slot_path(f, 'b', p, sizeof p);
  ck_assert_int_eq(truncate(p, 1000), 0); /* a burn cut short */
  ck_assert_int_eq(flash_set_pending(f, 'b', "2.0.0", err, sizeof err), 0);
  flash_boot_info bi;
  ck_assert_int_eq(flash_boot(f, 0, &bi, err, sizeof err), FLASH_BOOT_PANIC);
  ck_assert_int_eq(flash_boot(f, 0, &bi, err, sizeof err), FLASH_BOOT_OK);
  ck_assert_int_eq(bi.rolled_back, 1);
  ck_assert_str_eq(bi.version, "1.0.0");
  flash_close(f);
}
END_TEST

START_TEST(flash_no_rollback_defect_activates_bad_image) {
  flash *f = open_flash();
  burn_into(f, 'b', "2.0.0", FWIMAGE_FAIL_BOOT);
  ck_assert_int_eq(flash_set_pending(f, 'b', "2.0.0", err, sizeof err), 0);
  flash_boot_info bi;
  ck_assert_int_eq(flash_boot(f, 1, &bi, err, sizeof err), FLASH_BOOT_OK);
  ck_assert_str_eq(bi.version, "2.0.0");
  flash_close(f);
}
END_TEST

/* Runs `fn` in a child that sets a crash point; asserts it died of SIGKILL. */
static void crash_child(const char *point, int (*fn)(flash *)) {
  fflush(NULL);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    flash *f = flash_open(dir, "1.0.0", err, sizeof err);
    if (!f) _exit(10);
    flash_set_crash_point(f, point);
    fn(f);
    _exit(11); /* the crash point was not reached */
  }
  int st = 0;
  ck_assert_int_eq(waitpid(pid, &st, 0), pid);
  ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "child status %d", st);
}

static int do_set_pending(flash *f) { return flash_set_pending(f, 'b', "2.0.0", err, sizeof err); }

static int do_boot(flash *f) {
  flash_boot_info bi;
  return flash_boot(f, 0, &bi, err, sizeof err);
}

START_TEST(flash_meta_survives_crash_between_writes) {
  flash *f = open_flash();
  burn_into(f, 'b', "2.0.0", 0);
  flash_close(f);
  crash_child("meta-rename", do_set_pending);
  char tmp[512];
  path_in(tmp, sizeof tmp, "flash.json.tmp");
  ck_assert_int_gt(fs_size(tmp), 0); /* the new meta was written, not renamed */
  f = open_flash();
  flash_meta m;
  flash_get_meta(f, &m);
  ck_assert_int_eq(m.pending, 0); /* the old meta is whole */
  flash_boot_info bi;
  ck_assert_int_eq(flash_boot(f, 0, &bi, err, sizeof err), FLASH_BOOT_OK);
  ck_assert_str_eq(bi.version, "1.0.0");
  /* The leftover temporary file does not get in the way of the next write. */
  ck_assert_int_eq(flash_set_pending(f, 'b', "2.0.0", err, sizeof err), 0);
  ck_assert_int_eq(flash_boot(f, 0, &bi, err, sizeof err), FLASH_BOOT_OK);
  ck_assert_str_eq(bi.version, "2.0.0");
  flash_close(f);
}
END_TEST

START_TEST(flash_power_cut_during_boot_attempt_rolls_back) {
  flash *f = open_flash();
  burn_into(f, 'b', "2.0.0", 0);
  ck_assert_int_eq(flash_set_pending(f, 'b', "2.0.0", err, sizeof err), 0);
  flash_close(f);
  crash_child("boot-attempt", do_boot);
  f = open_flash();
  flash_meta m;
  flash_get_meta(f, &m);
  ck_assert_int_eq(m.attempts, 1);
  flash_boot_info bi;
  ck_assert_int_eq(flash_boot(f, 0, &bi, err, sizeof err), FLASH_BOOT_OK);
  ck_assert_int_eq(bi.rolled_back, 1);
  ck_assert_str_eq(bi.version, "1.0.0"); /* runs and reports the old image */
  flash_close(f);
}
END_TEST

/* ---- breakpoint ---- */

START_TEST(breakpoint_persist_and_match) {
  breakpoint *b = breakpoint_open(dir, 1, err, sizeof err);
  ck_assert_ptr_nonnull(b);
  ck_assert_int_eq(breakpoint_has_record(b), 0);
  ck_assert_int_eq(breakpoint_begin(b, "2.0.0", "0123456789abcdef0123456789abcdef", 5000, err,
                                    sizeof err), 0);
  FILE *f = fopen(breakpoint_part_path(b), "wb");
  fwrite("12345", 1, 5, f);
  fclose(f);
  breakpoint_close(b);
  b = breakpoint_open(dir, 1, err, sizeof err);
  ck_assert_int_eq(breakpoint_matches(b, "2.0.0", "0123456789ABCDEF0123456789abcdef", 5000), 1);
  ck_assert_int_eq(breakpoint_matches(b, "2.0.1", "0123456789abcdef0123456789abcdef", 5000), 0);
  ck_assert_int_eq(breakpoint_matches(b, "2.0.0", "0123456789abcdef0123456789abcdef", 5001), 0);
  ck_assert_uint_eq(breakpoint_offset(b), 5);
  /* A new firmware drops the old bytes first. */
  ck_assert_int_eq(breakpoint_begin(b, "3.0.0", "ffffffffffffffffffffffffffffffff", 10, err,
                                    sizeof err), 0);
  ck_assert_uint_eq(breakpoint_offset(b), 0);
  ck_assert_int_eq(breakpoint_clear(b, err, sizeof err), 0);
  ck_assert_int_eq(breakpoint_has_record(b), 0);
  breakpoint_close(b);
  /* Without persistence the record is gone after a "power cut". */
  b = breakpoint_open(dir, 0, err, sizeof err);
  ck_assert_int_eq(breakpoint_begin(b, "2.0.0", "0123456789abcdef0123456789abcdef", 5000, err,
                                    sizeof err), 0);
  ck_assert_int_eq(breakpoint_has_record(b), 1);
  breakpoint_close(b);
  b = breakpoint_open(dir, 0, err, sizeof err);
  ck_assert_int_eq(breakpoint_has_record(b), 0);
  breakpoint_close(b);
}
END_TEST

/* ---- checks every dialect makes (dialect.h) ---- */

START_TEST(dialect_parse_object_reasons) {
  char why[256];
  cJSON *o = dialect_parse_object("{\"a\":1} trailing", 7, 100, why, sizeof why);
  ck_assert_ptr_nonnull(o); /* only `len` bytes count: {"a":1} */
  ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(o, "a")->valueint, 1);
  cJSON_Delete(o);
  ck_assert_ptr_null(dialect_parse_object("{", 1, 100, why, sizeof why));
  ck_assert_str_eq(why, "not valid JSON");
  ck_assert_ptr_null(dialect_parse_object("[1]", 3, 100, why, sizeof why));
  ck_assert_str_eq(why, "not a JSON object");
  ck_assert_ptr_null(dialect_parse_object("{}", 2, 1, why, sizeof why));
  ck_assert_str_eq(why, "payload of 2 bytes is larger than 1");
  ck_assert_ptr_null(dialect_parse_object(NULL, 70000, 16384, why, sizeof why));
  ck_assert_str_eq(why, "payload of 70000 bytes is larger than 16384");
}
END_TEST

START_TEST(dialect_value_checks) {
  cJSON *v = cJSON_Parse("[5, 5.5, -1, \"5\", 4294967295]");
  ck_assert(dialect_json_int(cJSON_GetArrayItem(v, 0), 1, 10));
  ck_assert(!dialect_json_int(cJSON_GetArrayItem(v, 0), 6, 10));
  ck_assert(!dialect_json_int(cJSON_GetArrayItem(v, 1), 1, 10));
  ck_assert(!dialect_json_int(cJSON_GetArrayItem(v, 2), 0, 10));
  ck_assert(!dialect_json_int(cJSON_GetArrayItem(v, 3), 1, 10));
  ck_assert(dialect_json_int(cJSON_GetArrayItem(v, 4), 1, 4294967295.0));
  ck_assert(!dialect_json_int(NULL, 0, 1));
  cJSON_Delete(v);
  ck_assert(dialect_printable("2.0.0-rc1"));
  ck_assert(dialect_printable(""));
  ck_assert(!dialect_printable("2.0 beta"));
  ck_assert(!dialect_printable("2.0\x7f"));
  ck_assert(!dialect_printable("2.0\n"));
  ck_assert(dialect_http_url("http://127.0.0.1:8080/fw/a.bin"));
  ck_assert(dialect_http_url("https://x/a"));
  ck_assert(!dialect_http_url("ftp://x/a"));
  ck_assert(!dialect_http_url("http://x/a b"));
  ck_assert(!dialect_http_url("HTTP://x/a"));
}
END_TEST

/* ---- qcloud ---- */

static dialect_msg parse(const char *s, engine_request *r, char *why) {
  return qcloud_parse_update(s, strlen(s), r, why, 256);
}

START_TEST(qcloud_parse_valid_update) {
  engine_request r;
  char why[256];
  const char *s = "{\"file_size\":708482,\"md5sum\":\"36EB5951179DB14A631463A37A9322A2\","
                  "\"type\":\"update_firmware\",\"url\":\"http://127.0.0.1:1/fw/a.bin\","
                  "\"version\":\"0.2\"}";
  ck_assert_int_eq(parse(s, &r, why), DIALECT_MSG_UPDATE);
  ck_assert_uint_eq(r.size, 708482);
  ck_assert_str_eq(r.md5, "36eb5951179db14a631463a37a9322a2");
  ck_assert_str_eq(r.version, "0.2");
  ck_assert_str_eq(r.url, "http://127.0.0.1:1/fw/a.bin");
}
END_TEST

START_TEST(qcloud_parse_rejects_garbage) {
  engine_request r;
  char why[256];
  static const char *bad[] = {
      "", "{", "[1,2]", "null", "{\"type\":\"report_version\"}",
      "{\"type\":\"update_firmware\"}",
      "{\"type\":\"update_firmware\",\"file_size\":\"12\",\"md5sum\":\"36eb5951179db14a631463a37a9322a2\",\"url\":\"http://x/\",\"version\":\"2\"}",
      "{\"type\":\"update_firmware\",\"file_size\":-5,\"md5sum\":\"36eb5951179db14a631463a37a9322a2\",\"url\":\"http://x/\",\"version\":\"2\"}",
      "{\"type\":\"update_firmware\",\"file_size\":1.5,\"md5sum\":\"36eb5951179db14a631463a37a9322a2\",\"url\":\"http://x/\",\"version\":\"2\"}",
      "{\"type\":\"update_firmware\",\"file_size\":100,\"md5sum\":\"xyz\",\"url\":\"http://x/\",\"version\":\"2\"}",
      "{\"type\":\"update_firmware\",\"file_size\":100,\"md5sum\":\"36eb5951179db14a631463a37a9322a2\",\"url\":\"ftp://x/\",\"version\":\"2\"}",
      "{\"type\":\"update_firmware\",\"file_size\":100,\"md5sum\":\"36eb5951179db14a631463a37a9322a2\",\"url\":\"http://x/\",\"version\":\"\"}",
      "{\"type\":\"update_firmware\",\"file_size\":100,\"md5sum\":\"36eb5951179db14a631463a37a9322a2\",\"url\":\"http://x/\",\"version\":7}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why[0] = 0;
    ck_assert_msg(parse(bad[i], &r, why) == DIALECT_MSG_MALFORMED, "accepted: %s", bad[i]);
    ck_assert_msg(why[0] != 0, "no reason for: %s", bad[i]);
  }
  size_t n = QCLOUD_MAX_PAYLOAD + 10;
  char *huge = malloc(n);
  memset(huge, ' ', n);
  ck_assert_int_eq(qcloud_parse_update(huge, n, &r, why, sizeof why), DIALECT_MSG_MALFORMED);
  ck_assert_ptr_nonnull(strstr(why, "larger"));
  free(huge);
}
END_TEST

START_TEST(qcloud_progress_shape) {
  engine_report dl = {ENGINE_STEP_DOWNLOADING, 10, ENGINE_FAIL_NONE, "", "2.0.0", NULL};
  char *s = qcloud_progress_json(&dl);
  ck_assert_str_eq(s, "{\"type\":\"report_progress\",\"report\":{\"progress\":{\"state\":"
                      "\"downloading\",\"percent\":\"10\",\"result_code\":\"0\",\"result_msg\":\"\"},"
                      "\"version\":\"2.0.0\"}}");
  free(s);
  engine_report fl = {ENGINE_STEP_FAIL, 0, ENGINE_FAIL_DIGEST, "md5 mismatch", "2.0.0", NULL};
  s = qcloud_progress_json(&fl);
  ck_assert_str_eq(s, "{\"type\":\"report_progress\",\"report\":{\"progress\":{\"state\":\"fail\","
                      "\"result_code\":\"-4\",\"result_msg\":\"md5 mismatch\"},\"version\":\"2.0.0\"}}");
  free(s);
  ck_assert_int_eq(qcloud_result_code(ENGINE_FAIL_DOWNLOAD), -1);
  ck_assert_int_eq(qcloud_result_code(ENGINE_FAIL_NOT_FOUND), -2);
  ck_assert_int_eq(qcloud_result_code(ENGINE_FAIL_FORBIDDEN), -3);
  ck_assert_int_eq(qcloud_result_code(ENGINE_FAIL_UPDATE), -5);
}
END_TEST

int main(void) {
  Suite *s = suite_create("emu");
  TCase *t = tcase_create("all");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_set_timeout(t, 20);
  tcase_add_test(t, fwimage_round_trip);
  tcase_add_test(t, fwimage_flipped_byte_fails_crc);
  tcase_add_test(t, fwimage_truncated_and_bad_magic);
  tcase_add_test(t, fwimage_flags_and_determinism);
  tcase_add_test(t, flash_factory_state);
  tcase_add_test(t, flash_pending_boots_and_becomes_active);
  tcase_add_test(t, flash_fail_boot_rolls_back);
  tcase_add_test(t, flash_corrupt_pending_image_panics);
  tcase_add_test(t, flash_no_rollback_defect_activates_bad_image);
  tcase_add_test(t, flash_meta_survives_crash_between_writes);
  tcase_add_test(t, flash_power_cut_during_boot_attempt_rolls_back);
  tcase_add_test(t, breakpoint_persist_and_match);
  tcase_add_test(t, dialect_parse_object_reasons);
  tcase_add_test(t, dialect_value_checks);
  tcase_add_test(t, qcloud_parse_valid_update);
  tcase_add_test(t, qcloud_parse_rejects_garbage);
  tcase_add_test(t, qcloud_progress_shape);
  suite_add_tcase(s, t);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
