/* mcu_proto: the framed protocol on the UART between the module (otadev) and
 * its external MCU (otamcu), used for SOTA.
 *
 *   0x7E | type (1) | seq (2, LE) | len (2, LE) | payload (len) | crc32 (4, LE)
 *
 * The CRC32 (zlib) covers type, seq, len and payload. The module speaks, the
 * MCU answers every frame: 'V' version? -> 'v' "version crc32hex"; 'S' start
 * (u32 size, u32 image crc32, version) -> 'A'; 'D' data (u32 offset, bytes)
 * -> 'A' or 'N' (seq echoed); 'E' end -> 'A' once the image is verified and
 * installed, 'N' with a reason otherwise. A frame with a bad CRC, a bad length
 * or a gap of more than MCU_GAP_MS between its bytes is discarded whole and
 * answered 'N'; the module sends it again. One frame is in flight at a time.
 */
#ifndef OTAHIL_EMU_MCU_PROTO_H
#define OTAHIL_EMU_MCU_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define MCU_SOF 0x7E
#define MCU_CHUNK 512
#define MCU_MAX_PAYLOAD (MCU_CHUNK + 64)
#define MCU_FRAME_MAX (MCU_MAX_PAYLOAD + 10)
#define MCU_GAP_MS 100

enum {
  MCU_T_VERSION_Q = 'V',
  MCU_T_VERSION = 'v',
  MCU_T_START = 'S',
  MCU_T_DATA = 'D',
  MCU_T_END = 'E',
  MCU_T_ACK = 'A',
  MCU_T_NAK = 'N',
};

typedef struct mcu_frame {
  uint8_t type;
  uint16_t seq;
  uint16_t len;
  uint8_t payload[MCU_MAX_PAYLOAD + 1]; /* NUL after len bytes, for text payloads */
} mcu_frame;

/* Encodes `f` into `out` (MCU_FRAME_MAX bytes). Returns the frame's length. */
size_t mcu_frame_encode(const mcu_frame *f, uint8_t *out);

/* Writes the frame to `fd` whole (blocking). Returns 0 or -1. */
int mcu_frame_send(int fd, const mcu_frame *f);

/* Reads the next frame from `fd`, waiting at most `timeout_ms` for it to
 * start. Returns 1 with `out` filled; 0 on timeout (nothing started); -1 for a
 * frame that was damaged (bad CRC or length, or cut short by a gap): its bytes
 * are discarded. With `check_crc` 0 the CRC is not checked (the no-mcu-crc
 * defect). */
int mcu_frame_read(int fd, mcu_frame *out, long timeout_ms, int check_crc);

/* Opens a serial line in raw mode (non-blocking reads) and drops anything
 * left in its buffers. Returns the fd or -1 with `err`. */
int mcu_tty_open(const char *path, char *err, size_t errlen);

uint32_t mcu_get32(const uint8_t *p);
void mcu_put32(uint8_t *p, uint32_t v);

#endif
