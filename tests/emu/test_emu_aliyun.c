/* Unit tests of otadev's Aliyun and HaaS pieces that need no network: the
 * download_reply framing and its CRC16, the upgrade parser of both flavours,
 * the module store, MD5 and SHA-256 of a file, and the MQTT block scheduler
 * against an in-memory block source that loses and breaks replies. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/tmpdir.h"
#include "bugs.h"
#include "dialect_aliyun.h"
#include "digest.h"
#include "download_mqtt.h"
#include "fsutil.h"
#include "modstore.h"

static char dir[256];
static char err[512];

static void setup(void) { tmpdir_make(dir, sizeof dir, "otadev-aliyun"); }
static void teardown(void) { tmpdir_remove(dir); }

/* A download_reply frame as the cloud sends it (aliyun.lua does the same). */
static size_t frame(unsigned char *out, const char *header, const unsigned char *block, size_t n,
                    int flip_crc) {
  size_t h = strlen(header);
  out[0] = (unsigned char)(h >> 8);
  out[1] = (unsigned char)h;
  memcpy(out + 2, header, h);
  memcpy(out + 2 + h, block, n);
  uint16_t crc = download_crc16(block, n) ^ (flip_crc ? 1 : 0);
  out[2 + h + n] = (unsigned char)crc;
  out[3 + h + n] = (unsigned char)(crc >> 8);
  return 4 + h + n;
}

START_TEST(crc16_arc_check_value) {
  /* the catalogue's check value of CRC-16/ARC */
  ck_assert_uint_eq(download_crc16((const unsigned char *)"123456789", 9), 0xBB3D);
  ck_assert_uint_eq(download_crc16((const unsigned char *)"", 0), 0);
}
END_TEST

START_TEST(block_frame_parse) {
  unsigned char block[300], buf[1024];
  for (int i = 0; i < 300; i++) block[i] = (unsigned char)(i * 7);
  const char *hdr = "{\"id\":\"1\",\"code\":200,\"msg\":\"success\",\"data\":{\"fileToken\":\"s1f1\","
                    "\"fileLength\":1000,\"bSize\":300,\"bOffset\":256}}";
  size_t n = frame(buf, hdr, block, 300, 0);
  uint64_t off = 0;
  uint32_t size = 0;
  char token[17];
  const unsigned char *got = NULL;
  ck_assert_int_eq(aliyun_parse_block(buf, n, 1, &off, &size, token, &got, err, sizeof err), 0);
  ck_assert_uint_eq(off, 256);
  ck_assert_uint_eq(size, 300);
  ck_assert_str_eq(token, "s1f1");
  ck_assert_mem_eq(got, block, 300);
  /* a flipped byte in the block: CRC mismatch, unless the check is off */
  buf[2 + strlen(hdr) + 10] ^= 0x40;
  ck_assert_int_eq(aliyun_parse_block(buf, n, 1, &off, &size, token, &got, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "crc16"));
  ck_assert_int_eq(aliyun_parse_block(buf, n, 0, &off, &size, token, &got, err, sizeof err), 0);
  /* cut short, and a header length running past the end */
  ck_assert_int_eq(aliyun_parse_block(buf, n - 1, 1, &off, &size, token, &got, err, sizeof err), -1);
  unsigned char tiny[4] = {0x7f, 0xff, '{', '}'};
  ck_assert_int_eq(aliyun_parse_block(tiny, 4, 1, &off, &size, token, &got, err, sizeof err), -1);
  /* the cloud refuses */
  n = frame(buf, "{\"id\":\"2\",\"code\":404,\"msg\":\"no such file\"}", block, 0, 0);
  ck_assert_int_eq(aliyun_parse_block(buf, n, 1, &off, &size, token, &got, err, sizeof err), 1);
  ck_assert_ptr_nonnull(strstr(err, "no such file"));
}
END_TEST

static const char *md5x = "0123456789abcdef0123456789ABCDEF";
static const char *sha = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

START_TEST(upgrade_parse_http_and_mqtt) {
  engine_request r;
  char why[256], p[1024];
  snprintf(p, sizeof p,
           "{\"code\":\"1000\",\"id\":1,\"message\":\"success\",\"data\":{\"size\":4096,\"version\":\"2.0.0\","
           "\"isDiff\":1,\"signMethod\":\"Md5\",\"sign\":\"%s\",\"md5\":\"%s\",\"url\":\"http://h/fw\","
           "\"module\":\"MCU\",\"extData\":{\"k\":\"v\"}}}", md5x, md5x);
  ck_assert_int_eq(aliyun_parse_upgrade(p, strlen(p), ALIYUN_PLAIN, 0, &r, why, sizeof why), DIALECT_MSG_UPDATE);
  ck_assert_uint_eq(r.size, 4096);
  ck_assert_str_eq(r.md5, "0123456789abcdef0123456789abcdef");
  ck_assert_str_eq(r.sha256, "");
  ck_assert_str_eq(r.module, "MCU");
  ck_assert_str_eq(r.url, "http://h/fw");
  snprintf(p, sizeof p,
           "{\"code\":200,\"data\":{\"size\":4096,\"version\":\"2.0.0\",\"signMethod\":\"SHA256\","
           "\"sign\":\"%s\",\"md5\":\"%s\",\"dProtocol\":\"mqtt\",\"streamId\":1397345,\"streamFileId\":1}}",
           sha, md5x);
  ck_assert_int_eq(aliyun_parse_upgrade(p, strlen(p), ALIYUN_PLAIN, 0, &r, why, sizeof why), DIALECT_MSG_UPDATE);
  ck_assert_str_eq(r.sha256, sha);
  ck_assert_str_eq(r.md5, ""); /* one digest, as signMethod says */
  ck_assert_str_eq(r.url, "mqtt-stream:1397345/1");
  ck_assert_str_eq(r.module, "default");
  /* HaaS downloads over HTTP only */
  ck_assert_int_eq(aliyun_parse_upgrade(p, strlen(p), ALIYUN_HAAS, 0, &r, why, sizeof why), DIALECT_MSG_MALFORMED);
  ck_assert_ptr_nonnull(strstr(why, "HTTP only"));
}
END_TEST

START_TEST(upgrade_parse_rejects_garbage) {
  engine_request r;
  char why[256];
  const char *empty = "{\"id\":\"3\",\"code\":200,\"data\":{}}";
  ck_assert_int_eq(aliyun_parse_upgrade(empty, strlen(empty), ALIYUN_PLAIN, 0, &r, why, sizeof why),
                   DIALECT_MSG_IGNORED);
  const char *bad[] = {
      "not json",
      "[1,2]",
      "{\"code\":\"500\",\"data\":{\"size\":1}}",
      "{\"code\":\"1000\",\"data\":{\"size\":\"big\",\"version\":\"2\",\"url\":\"http://h\",\"md5\":\"0\"}}",
      "{\"code\":\"1000\",\"data\":{\"size\":10,\"version\":\"2\",\"url\":\"ftp://h\","
      "\"md5\":\"0123456789abcdef0123456789abcdef\"}}",
      "{\"code\":\"1000\",\"data\":{\"size\":10,\"version\":\"2\",\"url\":\"http://h\",\"signMethod\":\"CRC\","
      "\"md5\":\"0123456789abcdef0123456789abcdef\"}}",
      "{\"code\":\"1000\",\"data\":{\"size\":10,\"version\":\"2\",\"url\":\"http://h\",\"signMethod\":\"SHA256\","
      "\"sign\":\"0123\"}}",
      "{\"code\":\"1000\",\"data\":{\"size\":10,\"version\":\"2\",\"url\":\"http://h\",\"module\":\"a/b\","
      "\"md5\":\"0123456789abcdef0123456789abcdef\"}}",
      "{\"code\":\"1000\",\"data\":{\"size\":10,\"version\":\"2\",\"dProtocol\":\"mqtt\","
      "\"md5\":\"0123456789abcdef0123456789abcdef\"}}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ck_assert_msg(aliyun_parse_upgrade(bad[i], strlen(bad[i]), ALIYUN_PLAIN, 0, &r, why, sizeof why) ==
                      DIALECT_MSG_MALFORMED, "accepted: %s", bad[i]);
}
END_TEST

START_TEST(modstore_init_list_install) {
  const char *factory[] = {"MCU=1.0.0", "app=0.9"};
  ck_assert_msg(modstore_init(dir, factory, 2, err, sizeof err) == 0, "%s", err);
  modstore_entry m[MODSTORE_MAX];
  ck_assert_int_eq(modstore_list(dir, m, MODSTORE_MAX, err, sizeof err), 2);
  ck_assert_str_eq(m[0].name, "MCU");
  ck_assert_str_eq(m[0].version, "1.0.0");
  char img[512];
  ck_assert_int_eq(fs_join(img, sizeof img, dir, "img.bin"), 0);
  ck_assert_int_eq(fs_write_atomic(img, "abc", 3, NULL, NULL, err, sizeof err), 0);
  ck_assert_msg(modstore_install(dir, "MCU", "1.1.0", img, err, sizeof err) == 0, "%s", err);
  /* a later init (the next boot) keeps what was installed */
  ck_assert_int_eq(modstore_init(dir, factory, 2, err, sizeof err), 0);
  ck_assert_int_eq(modstore_list(dir, m, MODSTORE_MAX, err, sizeof err), 2);
  ck_assert_str_eq(m[0].version, "1.1.0");
  ck_assert_str_eq(m[1].version, "0.9");
  char path[512];
  ck_assert_int_eq(fs_join(path, sizeof path, dir, "module_MCU.bin"), 0);
  ck_assert_int_eq(fs_size(path), 3);
  const char *bad[] = {"default=1"};
  ck_assert_int_eq(modstore_init(dir, bad, 1, err, sizeof err), -1);
  ck_assert_int_eq(modstore_install(dir, "../x", "1", img, err, sizeof err), -1);
}
END_TEST

START_TEST(digests_of_a_file) {
  char p[512], hex[65], md5[33];
  ck_assert_int_eq(fs_join(p, sizeof p, dir, "abc"), 0);
  ck_assert_int_eq(fs_write_atomic(p, "abc", 3, NULL, NULL, err, sizeof err), 0);
  ck_assert_int_eq(digest_sha256_file(p, hex, err, sizeof err), 0);
  ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  ck_assert_int_eq(digest_md5_file(p, md5, err, sizeof err), 0);
  ck_assert_str_eq(md5, "900150983cd24fb0d6963f7d28e17f72");
  ck_assert_int_eq(digest_md5_file("/nonexistent/img.bin", md5, err, sizeof err), -1);
  ck_assert_msg(strstr(err, "/nonexistent/img.bin") != NULL, "'%s' does not name the file", err);
  ck_assert_int_eq(digest_is_hex(hex, 64), 1);
  ck_assert_int_eq(digest_is_hex("xyz", 3), 0);
}
END_TEST

/* ---- the block scheduler against an in-memory source ---- */

typedef struct fake {
  unsigned char file[5000];
  uint64_t off;
  uint32_t size;
  int requests, lose, broken; /* lose / break the next N replies */
  uint64_t offsets[64];
} fake;

static int fake_request(void *ctx, const char *stream, uint64_t offset, uint32_t size) {
  fake *f = ctx;
  ck_assert_str_eq(stream, "mqtt-stream:7/1");
  if (f->requests < 64) f->offsets[f->requests] = offset;
  f->requests++;
  f->off = offset;
  f->size = size;
  return 0;
}

static int fake_take(void *ctx, const unsigned char **data, size_t *len, char *why, size_t whylen) {
  fake *f = ctx;
  if (!f->size) return 0;
  if (f->lose > 0) {
    f->lose--;
    f->size = 0;
    return 0;
  }
  if (f->broken > 0) {
    f->broken--;
    f->size = 0;
    snprintf(why, whylen, "crc16 mismatch");
    return -2;
  }
  *data = f->file + f->off;
  *len = f->size;
  f->size = 0;
  return 1;
}

static void run_blocks(fake *f, unsigned bugs, download_status want, int64_t want_size) {
  for (size_t i = 0; i < sizeof f->file; i++) f->file[i] = (unsigned char)(i * 31 + 7);
  char part[512], msg[256];
  ck_assert_int_eq(fs_join(part, sizeof part, dir, "download.part"), 0);
  blocksrc src = {f, fake_request, fake_take, 1024, 30, 3};
  download_opts o = {.url = "mqtt-stream:7/1", .part_path = part, .size = sizeof f->file, .resume = 1};
  ck_assert_int_eq(download_mqtt_run(&o, &src, bugs, msg, sizeof msg), want);
  ck_assert_int_eq(fs_size(part), want_size);
  if (want == DOWNLOAD_OK && want_size == (int64_t)sizeof f->file) {
    size_t n = 0;
    char *got = fs_read_all(part, 1 << 20, &n, NULL, err, sizeof err);
    ck_assert_ptr_nonnull(got);
    ck_assert_mem_eq(got, f->file, sizeof f->file);
    free(got);
  }
}

START_TEST(blocks_lost_and_broken_replies_asked_again) {
  fake f;
  memset(&f, 0, sizeof f);
  f.lose = 1;
  f.broken = 1;
  run_blocks(&f, 0, DOWNLOAD_OK, 5000);
  /* 5 blocks (the last 904 bytes), block 0 asked three times */
  ck_assert_int_eq(f.requests, 7);
  ck_assert_uint_eq(f.offsets[0], 0);
  ck_assert_uint_eq(f.offsets[1], 0);
  ck_assert_uint_eq(f.offsets[2], 0);
  ck_assert_uint_eq(f.offsets[6], 4096);
}
END_TEST

START_TEST(blocks_give_up_after_retries) {
  fake f;
  memset(&f, 0, sizeof f);
  f.lose = 100;
  run_blocks(&f, 0, DOWNLOAD_RETRIES, 0);
  ck_assert_int_eq(f.requests, 3);
}
END_TEST

START_TEST(blocks_resume_from_the_part_file) {
  fake f;
  memset(&f, 0, sizeof f);
  for (size_t i = 0; i < sizeof f.file; i++) f.file[i] = (unsigned char)(i * 31 + 7);
  char part[512];
  ck_assert_int_eq(fs_join(part, sizeof part, dir, "download.part"), 0);
  ck_assert_int_eq(fs_write_atomic(part, f.file, 2048, NULL, NULL, err, sizeof err), 0);
  run_blocks(&f, 0, DOWNLOAD_OK, 5000);
  ck_assert_uint_eq(f.offsets[0], 2048);
}
END_TEST

START_TEST(blocks_off_by_one_defect_skips_bytes) {
  fake f;
  memset(&f, 0, sizeof f);
  run_blocks(&f, BUG_BLOCK_OFF_BY_ONE, DOWNLOAD_OK, 5000 - 4);
  ck_assert_uint_eq(f.offsets[1], 1025);
}
END_TEST

int main(void) {
  Suite *s = suite_create("emu_aliyun");
  TCase *t = tcase_create("aliyun");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_set_timeout(t, 20);
  tcase_add_test(t, crc16_arc_check_value);
  tcase_add_test(t, block_frame_parse);
  tcase_add_test(t, upgrade_parse_http_and_mqtt);
  tcase_add_test(t, upgrade_parse_rejects_garbage);
  tcase_add_test(t, modstore_init_list_install);
  tcase_add_test(t, digests_of_a_file);
  tcase_add_test(t, blocks_lost_and_broken_replies_asked_again);
  tcase_add_test(t, blocks_give_up_after_retries);
  tcase_add_test(t, blocks_resume_from_the_part_file);
  tcase_add_test(t, blocks_off_by_one_defect_skips_bytes);
  suite_add_tcase(s, t);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
