#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "bugs.h"

static const struct {
  const char *name;
  unsigned bit;
} table[] = {
    {"no-md5", BUG_NO_MD5},
    {"no-resume", BUG_NO_RESUME},
    {"no-persist", BUG_NO_PERSIST},
    {"stale-resume", BUG_STALE_RESUME},
    {"wrong-404-code", BUG_WRONG_404_CODE},
    {"wrong-403-code", BUG_WRONG_403_CODE},
    {"no-timeout", BUG_NO_TIMEOUT},
    {"no-version-after-reboot", BUG_NO_VERSION_AFTER_REBOOT},
    {"no-rollback", BUG_NO_ROLLBACK},
    {"done-before-burn", BUG_DONE_BEFORE_BURN},
    {"progress-backwards", BUG_PROGRESS_BACKWARDS},
    {"crash-on-garbage", BUG_CRASH_ON_GARBAGE},
    {"accepts-low-battery", BUG_ACCEPTS_LOW_BATTERY},
    {"ignores-source-version", BUG_IGNORES_SOURCE_VERSION},
    {"no-fota-result", BUG_NO_FOTA_RESULT},
    {"no-mcu-crc", BUG_NO_MCU_CRC},
    {"ignores-confirm", BUG_IGNORES_CONFIRM},
    {"no-sota-retry", BUG_NO_SOTA_RETRY},
    {"no-crc32", BUG_NO_CRC32},
    {"progress-spam", BUG_PROGRESS_SPAM},
    {"wrong-step-code", BUG_WRONG_STEP_CODE},
    {"block-offset-off-by-one", BUG_BLOCK_OFF_BY_ONE},
    {"no-block-retry", BUG_NO_BLOCK_RETRY},
    {"no-block-crc", BUG_NO_BLOCK_CRC},
    {"no-sha256", BUG_NO_SHA256},
    {"ignores-module", BUG_IGNORES_MODULE},
    {"accepts-unknown-sign", BUG_ACCEPTS_UNKNOWN_SIGN},
    {"no-cert-verify", BUG_NO_CERT_VERIFY},
    {"no-hostname-check", BUG_NO_HOSTNAME_CHECK},
};

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
