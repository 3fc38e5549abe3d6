/* bugs: the defect switches of otadev (`--bug NAME`).
 *
 * Each switch makes the emulator behave like a real, buggy OTA client, so the
 * harness's suites can prove that they catch it. The switches are a bit mask
 * passed by value to the modules that implement them; nothing here is global.
 */
#ifndef OTAHIL_EMU_BUGS_H
#define OTAHIL_EMU_BUGS_H

#include <stddef.h>

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

/* Returns the BUG_* bit for `name` (e.g. "no-md5"), or 0 if it is unknown. */
unsigned bugs_by_name(const char *name);

/* Returns the name of the single bit `bit`, or NULL. */
const char *bugs_name(unsigned bit);

/* Writes the known names, separated by ", ", into `buf` (always terminated). */
void bugs_list(char *buf, size_t len);

#endif
