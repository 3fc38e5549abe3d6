/* mcu_link: the module's side of the UART to its external MCU (SOTA).
 *
 * The MCU is a second process (otamcu) that the module starts itself, with
 * PR_SET_PDEATHSIG: when the module loses power (SIGKILL) the MCU goes with
 * it, as both sit on one board. They talk over a serial line (in the harness,
 * a relay that can drop or corrupt bytes) with the frames of mcu_proto.h;
 * every frame waits for its answer, and a NAK or a silence is retried.
 */
#ifndef OTAHIL_EMU_MCU_LINK_H
#define OTAHIL_EMU_MCU_LINK_H

#include <stddef.h>
#include <stdint.h>

typedef struct mcu_link mcu_link;

typedef struct mcu_link_opts {
  const char *tty;        /* the module's side */
  const char *peer_tty;   /* the MCU's side (passed to the MCU program) */
  const char *exec;       /* the MCU program; NULL = otamcu beside this executable */
  const char *state_dir;  /* the MCU's flash directory */
  const char *version;    /* the MCU's factory version */
  int no_crc;             /* start the MCU with the no-mcu-crc defect */
} mcu_link_opts;

/* Starts the MCU and opens the line. Returns NULL with `err` on failure. */
mcu_link *mcu_link_open(const mcu_link_opts *o, char *err, size_t errlen);

/* Asks the MCU which version it runs (retrying up to `tries` times). Returns
 * 0 with `version` filled, or -1 with `err`. */
int mcu_link_version(mcu_link *l, char *version, size_t len, int tries, char *err, size_t errlen);

/* Called during a transfer; nonzero stops it. */
typedef int (*mcu_link_progress)(void *ctx, uint32_t sent, uint32_t size);

/* Sends the image at `path` (`version`, whole-image CRC32 `crc`) to the MCU.
 * Each frame is sent up to `tries` times (1 = no retry). Returns 0 when the
 * MCU installed it, 1 when stopped, -1 with `err` (the MCU's reason when it
 * refused). `*resent` counts frames sent again. */
int mcu_link_transfer(mcu_link *l, const char *path, const char *version, uint32_t crc, int tries,
                      mcu_link_progress progress, void *ctx, int *resent, char *err, size_t errlen);

/* Stops the MCU (SIGKILL, reaped) and closes the line. */
void mcu_link_close(mcu_link *l);

#endif
