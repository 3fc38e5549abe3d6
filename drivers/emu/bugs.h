/* bugs: the defect switches of otadev (`--bug NAME`).
 *
 * Each switch makes the emulator behave like a real, buggy OTA client, so the
 * harness's suites can prove that they catch it. The switches are a bit mask
 * passed by value to the modules that implement them; nothing here is global.
 */
#ifndef OTAHIL_EMU_BUGS_H
#define OTAHIL_EMU_BUGS_H

#include <stddef.h>
#include <stdio.h>

#define BUG_NO_MD5 (1u << 0)                  /* skip the MD5 check */
#define BUG_NO_RESUME (1u << 1)               /* always download from 0 */
#define BUG_NO_PERSIST (1u << 2)              /* breakpoint only in RAM */
#define BUG_STALE_RESUME (1u << 3)            /* resume any part file */
#define BUG_WRONG_404_CODE (1u << 4)          /* 404 reported as a timeout */
#define BUG_WRONG_403_CODE (1u << 5)          /* 403 reported as "file does not exist" */
#define BUG_NO_TIMEOUT (1u << 6)              /* no stall detection */
#define BUG_NO_VERSION_AFTER_REBOOT (1u << 7) /* silent after an upgrade reboot */
#define BUG_NO_ROLLBACK (1u << 8)             /* a FAIL_BOOT image becomes active */
#define BUG_DONE_BEFORE_BURN (1u << 9)        /* `done` published before `burning` */
#define BUG_PROGRESS_BACKWARDS (1u << 10)     /* one downloading report goes down */
#define BUG_CRASH_ON_GARBAGE (1u << 11)       /* abort() on a malformed message */
/* quecthing (bits 12..19 are theirs) */
#define BUG_ACCEPTS_LOW_BATTERY (1u << 12)    /* accepts a plan below its minimum battery */
#define BUG_IGNORES_SOURCE_VERSION (1u << 13) /* accepts a differential package for another version */
#define BUG_NO_FOTA_RESULT (1u << 14)         /* no fotaResult after the upgrade reboot */
#define BUG_NO_MCU_CRC (1u << 15)             /* the MCU checks no CRC32 on the serial line */
#define BUG_IGNORES_CONFIRM (1u << 16)        /* starts a user-confirmed plan unconfirmed */
#define BUG_NO_SOTA_RETRY (1u << 17)          /* gives up on the first NAK from the MCU */
#define BUG_NO_CRC32 (1u << 18)               /* SOTA image's CRC32 not verified */
/* aliyun and haas (bits 20..27 are theirs) */
#define BUG_PROGRESS_SPAM (1u << 20)          /* progress not limited to one per interval */
#define BUG_WRONG_STEP_CODE (1u << 21)        /* a verify failure reported as -2, not -3 */
#define BUG_BLOCK_OFF_BY_ONE (1u << 22)       /* next MQTT block asked one byte too far */
#define BUG_NO_BLOCK_RETRY (1u << 23)         /* a lost block reply is never asked again */
#define BUG_NO_BLOCK_CRC (1u << 24)           /* the block's CRC16 is not checked */
#define BUG_NO_SHA256 (1u << 25)              /* SHA-256 not verified */
#define BUG_IGNORES_MODULE (1u << 26)         /* every upgrade burnt as the default module */
#define BUG_ACCEPTS_UNKNOWN_SIGN (1u << 27)   /* an unknown signMethod: installed unverified */
#define BUG_NO_CERT_VERIFY (1u << 28)         /* TLS: any server certificate is accepted (MQTT, HTTPS) */
#define BUG_NO_HOSTNAME_CHECK (1u << 29)      /* TLS: the chain is verified, not the name in it */
#define BUG_BAD_SIGNATURE (1u << 30)          /* --secret: the login's HMAC is wrong (login.h) */

/* Returns the BUG_* bit for `name` (e.g. "no-md5"), or 0 if it is unknown. */
unsigned bugs_by_name(const char *name);

/* Returns the name of the single bit `bit`, or NULL. */
const char *bugs_name(unsigned bit);

/* Prints one line per switch to f: its name, the dialects it applies to
 * ("all" or a comma-separated list) and what it breaks (otadev --help). */
void bugs_help(FILE *f);

/* Writes the known names, separated by ", ", into `buf` (always terminated). */
void bugs_list(char *buf, size_t len);

#endif
