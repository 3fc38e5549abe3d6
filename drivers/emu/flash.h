/* flash: otadev's flash, a directory with two image slots and a meta file,
 * and the bootloader that decides which slot runs.
 *
 *   DIR/slot_a.bin, DIR/slot_b.bin   images (fwimage format)
 *   DIR/flash.json                   {"active":"a","slots":{"a":{"version":..},"b":{..}},
 *                                     "pending":"b"|null,"attempts":0,
 *                                     "last_failure":{"version","msg","reported"}|null}
 *
 * flash.json is only ever replaced atomically (temp + rename + fsync), and the
 * boot counter is persisted before a pending image is tried, so a power cut at
 * any instant leaves either the old or the new meta, and a pending image that
 * did not come up once is rolled back on the next boot.
 */
#ifndef OTAHIL_EMU_FLASH_H
#define OTAHIL_EMU_FLASH_H

#include <stddef.h>

#include "fwimage.h"

#define FLASH_VERSION_MAX FWIMAGE_VERSION_MAX
#define FLASH_MSG_MAX 256

typedef struct flash flash;

/* A copy of the meta, for printing and tests. Slots are 'a' and 'b';
 * pending is 0 when none. */
typedef struct flash_meta {
  char active;
  char pending;
  int attempts;
  char version_a[FLASH_VERSION_MAX + 1];
  char version_b[FLASH_VERSION_MAX + 1];
  int has_failure; /* last_failure is set */
  int failure_reported;
  char failure_version[FLASH_VERSION_MAX + 1];
  char failure_msg[FLASH_MSG_MAX];
} flash_meta;

/* What one boot did. */
typedef struct flash_boot_info {
  char slot;                                  /* the slot now running */
  char version[FLASH_VERSION_MAX + 1];        /* its version */
  int upgraded;                               /* a pending image became active */
  int rolled_back;                            /* a pending image was abandoned */
  char failed_version[FLASH_VERSION_MAX + 1]; /* on panic or rollback */
  char msg[FLASH_MSG_MAX];                    /* panic reason or rollback note */
} flash_boot_info;

enum { FLASH_BOOT_OK = 0, FLASH_BOOT_PANIC = 1 };

/* Opens the flash in `dir` (created if missing). With no flash.json yet, makes
 * the factory state: slot a holds an image of `factory_version`. Returns a
 * handle the caller frees with flash_close, or NULL with `err` set. */
flash *flash_open(const char *dir, const char *factory_version, char *err, size_t errlen);

/* Runs the bootloader once, re-reading flash.json as a real boot would.
 * A pending slot with attempts >= 1 is rolled back; otherwise attempts is
 * incremented and persisted, then the pending image is checked: a bad image or
 * one flagged FWIMAGE_FAIL_BOOT panics (unless `trust_fail_boot`, the
 * no-rollback defect, which activates it anyway). Returns FLASH_BOOT_OK,
 * FLASH_BOOT_PANIC (the caller "reboots" by calling flash_boot again), or -1
 * with `err` set when the flash cannot be read or written. */
int flash_boot(flash *f, int trust_fail_boot, flash_boot_info *out, char *err, size_t errlen);

/* The slot that does not run, i.e. the one an update is burnt into. */
char flash_inactive_slot(const flash *f);

/* The version of the running slot (owned by `f`, valid until the next call). */
const char *flash_active_version(const flash *f);

/* Writes DIR/slot_<slot>.bin into `buf`. Returns 0, or -1 if it does not fit. */
int flash_slot_path(const flash *f, char slot, char *buf, size_t len);

/* Marks `slot` (burnt with `version`) as pending with attempts = 0, in one
 * atomic meta write. Returns 0, or -1 with `err` set. */
int flash_set_pending(flash *f, char slot, const char *version, char *err, size_t errlen);

/* Marks last_failure as reported (persisted). Returns 0 or -1 with `err`. */
int flash_failure_reported(flash *f, char *err, size_t errlen);

/* Fills `out` with the meta as last read or written. */
void flash_get_meta(const flash *f, flash_meta *out);

/* Fault injection for tests: at the named point the process SIGKILLs itself,
 * like a power cut. Points: "meta-rename" (a new flash.json is written and
 * synced but not yet renamed), "boot-attempt" (attempts persisted, pending
 * image not yet started). NULL disables. The string is copied. */
void flash_set_crash_point(flash *f, const char *point);

/* Frees the handle (the flash stays on disk). */
void flash_close(flash *f);

#endif
