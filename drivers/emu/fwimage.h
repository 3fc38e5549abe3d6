/* fwimage: the firmware image format that otadev understands.
 *
 * Layout (little endian):
 *   0  magic "OTAFW1\0\0"      8 bytes
 *   8  header length (64)      uint32
 *  12  flags (FWIMAGE_*)       uint32
 *  16  payload length          uint32  (file size - 64)
 *  20  payload CRC32 (zlib)    uint32
 *  24  version, NUL padded     32 bytes
 *  56  reserved, zero          8 bytes
 *  64  payload: deterministic pseudo-random bytes derived from version and size
 *
 * Images are made by `otahil fw build` and by lab files; only otadev reads the
 * flags. The harness never depends on this format for a device under test.
 */
#ifndef OTAHIL_FWIMAGE_H
#define OTAHIL_FWIMAGE_H

#include <stddef.h>
#include <stdint.h>

#define FWIMAGE_HEADER_LEN 64u
#define FWIMAGE_VERSION_MAX 32u
#define FWIMAGE_FAIL_BOOT 0x1u /* the image is burnt fine but never boots */
#define FWIMAGE_FAIL_BURN 0x2u /* the device must reject it at burn (-5) */

typedef struct fwimage_info {
  char version[FWIMAGE_VERSION_MAX + 1];
  uint32_t flags;
  uint32_t payload_len;
  uint32_t payload_crc;
} fwimage_info;

/* Writes an image of exactly `size` bytes (>= FWIMAGE_HEADER_LEN) to `path`,
 * atomically (temporary file + rename). Returns 0, or -1 with `err` set. */
int fwimage_build(const char *path, const char *version, uint64_t size,
                  uint32_t flags, char *err, size_t errlen);

/* Reads and verifies the header and the payload CRC of the image at `path`.
 * Returns 0 and fills `out`, or -1 with `err` naming what is wrong. */
int fwimage_check(const char *path, fwimage_info *out, char *err, size_t errlen);

/* Parses "fail-boot"/"fail-burn" style names; returns the flag or 0. */
uint32_t fwimage_flag_by_name(const char *name);

#endif
