#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "bugs.h"

/* name, bit, the dialects it applies to, and what it breaks (otadev --help) */
static const struct {
  const char *name;
  unsigned bit;
  const char *dialects;
  const char *what;
} table[] = {
    {"no-md5", BUG_NO_MD5, "all", "installs an image without checking its MD5"},
    {"no-resume", BUG_NO_RESUME, "all", "always downloads from byte 0 (no Range after a cut)"},
    {"no-persist", BUG_NO_PERSIST, "all", "keeps the download breakpoint in RAM only: lost at power off"},
    {"stale-resume", BUG_STALE_RESUME, "all", "resumes any part file, even one of another image"},
    {"wrong-404-code", BUG_WRONG_404_CODE, "all", "reports an HTTP 404 as a download timeout"},
    {"wrong-403-code", BUG_WRONG_403_CODE, "all", "reports an HTTP 403 as \"file does not exist\""},
    {"no-timeout", BUG_NO_TIMEOUT, "all", "no stall detection: a stalled download is never given up"},
    {"no-version-after-reboot", BUG_NO_VERSION_AFTER_REBOOT, "all", "reports no version after the upgrade reboot"},
    {"no-rollback", BUG_NO_ROLLBACK, "all", "boots a FAIL_BOOT image as active instead of rolling back"},
    {"done-before-burn", BUG_DONE_BEFORE_BURN, "all", "publishes `done` before `burning`"},
    {"progress-backwards", BUG_PROGRESS_BACKWARDS, "all", "one downloading report goes down (e.g. 40 % then 30 %)"},
    {"crash-on-garbage", BUG_CRASH_ON_GARBAGE, "all", "abort()s on a malformed cloud message"},
    {"accepts-low-battery", BUG_ACCEPTS_LOW_BATTERY, "quecthing", "accepts a plan below its minimum battery level"},
    {"ignores-source-version", BUG_IGNORES_SOURCE_VERSION, "quecthing",
     "accepts a differential package made for another version"},
    {"no-fota-result", BUG_NO_FOTA_RESULT, "quecthing", "sends no fotaResult after the upgrade reboot"},
    {"no-mcu-crc", BUG_NO_MCU_CRC, "quecthing", "the MCU checks no CRC32 on the serial line"},
    {"ignores-confirm", BUG_IGNORES_CONFIRM, "quecthing", "starts a user-confirmed plan without the confirmation"},
    {"no-sota-retry", BUG_NO_SOTA_RETRY, "quecthing", "gives up on the first NAK from the MCU"},
    {"no-crc32", BUG_NO_CRC32, "quecthing", "installs a SOTA image without verifying its CRC32"},
    {"progress-spam", BUG_PROGRESS_SPAM, "aliyun,haas", "progress reports not limited to one per interval"},
    {"wrong-step-code", BUG_WRONG_STEP_CODE, "aliyun,haas", "reports a verify failure as step -2, not -3"},
    {"block-offset-off-by-one", BUG_BLOCK_OFF_BY_ONE, "aliyun", "asks the next MQTT download block one byte too far"},
    {"no-block-retry", BUG_NO_BLOCK_RETRY, "aliyun", "never asks again for a block whose reply was lost"},
    {"no-block-crc", BUG_NO_BLOCK_CRC, "aliyun", "does not check an MQTT block's CRC16"},
    {"no-sha256", BUG_NO_SHA256, "aliyun,haas", "installs an image without verifying its SHA-256"},
    {"ignores-module", BUG_IGNORES_MODULE, "aliyun,haas", "burns every upgrade as the default module"},
    {"accepts-unknown-sign", BUG_ACCEPTS_UNKNOWN_SIGN, "aliyun,haas",
     "installs, unverified, an image with an unknown signMethod"},
    {"no-cert-verify", BUG_NO_CERT_VERIFY, "all", "accepts any server certificate (no chain check)"},
    {"no-hostname-check", BUG_NO_HOSTNAME_CHECK, "all", "accepts a trusted certificate issued for another host"},
    {"bad-signature", BUG_BAD_SIGNATURE, "qcloud,aliyun,haas", "signs its MQTT login (--secret) with a wrong HMAC"},
};

void bugs_help(FILE *f) {
  fprintf(f, "bugs (--bug NAME, repeatable; dialects it applies to; what it breaks):\n");
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    fprintf(f, "  %-24s %-12s %s\n", table[i].name, table[i].dialects, table[i].what);
}

unsigned bugs_by_name(const char *name) {
  if (!name) return 0;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (strcmp(table[i].name, name) == 0) return table[i].bit;
  return 0;
}

const char *bugs_name(unsigned bit) {
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (table[i].bit == bit) return table[i].name;
  return NULL;
}

void bugs_list(char *buf, size_t len) {
  size_t used = 0;
  if (len == 0) return;
  buf[0] = 0;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", table[i].name);
    if (n < 0 || (size_t)n >= len - used) return;
    used += (size_t)n;
  }
}
