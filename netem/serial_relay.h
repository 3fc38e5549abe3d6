/* serial_relay: a fault-injecting relay on a serial line, between two
 * pseudo-terminals (the UART stage beside the network proxy).
 *
 * The relay opens two ptys: side A for the module ("{mcu_tty}") and side B for
 * the MCU ("{mcu_peer_tty}"). Every byte the module writes on A's slave comes
 * out of B's slave and back, unchanged unless a fault says otherwise. The relay
 * keeps a slave fd of each side open, so a peer that closes its end (a power
 * cut) never makes the master see a hang-up, and bytes are never lost between
 * power cycles. Raw mode is set on both lines.
 *
 * Directions: SERIAL_DOWN is module -> MCU (A -> B), SERIAL_UP is MCU -> module.
 * Offsets count bytes read from the source in one direction since the relay
 * opened. Faults (seeded, so a run replays) act on bytes as they pass:
 *   corrupt: XOR chosen bytes (offsets relative to when the fault was added,
 *            `random` offsets drawn in [0, within), or one byte in every `every`)
 *   drop:    drop `count` bytes starting `at` bytes after the fault was added
 *            (count 0 = every byte until the fault is removed)
 * Every byte a fault changed or dropped is reported through the event callback.
 * libuv only; one loop, one thread; nothing blocks.
 */
#ifndef OTAHIL_SERIAL_RELAY_H
#define OTAHIL_SERIAL_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct serial_relay serial_relay;

enum serial_dir { SERIAL_DOWN = 1, SERIAL_UP = 2, SERIAL_BOTH = 3 };

#define SERIAL_MAX_OFFSETS 64

enum serial_fault_kind { SERIAL_CORRUPT = 1, SERIAL_DROP };

typedef struct serial_fault {
  enum serial_fault_kind kind;
  enum serial_dir dir;                 /* 0 means SERIAL_DOWN */
  uint64_t offsets[SERIAL_MAX_OFFSETS]; /* corrupt: relative offsets */
  size_t n_offsets;
  uint32_t random;                     /* corrupt: this many random offsets in [0, within) */
  uint64_t within;                     /* corrupt random: 0 = 4096 */
  uint64_t every;                      /* corrupt: one byte in every `every` (the last of each block) */
  int xor_mask;                        /* corrupt: 0 = a random non-zero mask per byte */
  uint64_t at;                         /* drop: first byte, relative */
  uint64_t count;                      /* drop: how many bytes; 0 = all until removed */
} serial_fault;

/* One byte (or run of dropped bytes) a fault acted on. */
typedef struct serial_event {
  uint32_t fault_id;
  enum serial_dir dir;
  const char *action; /* "corrupt" or "drop" */
  uint64_t offset;    /* stream offset of the (first) byte */
  uint64_t count;     /* bytes (1 for corrupt) */
  int old_byte, new_byte; /* corrupt only, else -1 */
} serial_event;

typedef void (*serial_event_cb)(const serial_event *ev, void *user);

/* Opens both ptys and starts relaying. Returns 0 or a negative UV_E* code
 * with a message in `err`. */
int serial_relay_open(uv_loop_t *loop, uint64_t seed, serial_event_cb cb, void *user,
                      serial_relay **out, char *err, size_t errlen);

/* The slave path of side A (module) and side B (MCU); owned by the relay. */
const char *serial_relay_path_a(const serial_relay *r);
const char *serial_relay_path_b(const serial_relay *r);

/* Adds a fault (copied). *id (may be NULL) gets its id. Returns 0 or UV_EINVAL
 * with a message naming the wrong field. */
int serial_relay_fault_add(serial_relay *r, const serial_fault *f, uint32_t *id, char *err,
                           size_t errlen);

/* Removes every fault. */
void serial_relay_fault_clear(serial_relay *r);

/* Bytes relayed so far in one direction (read from the source). */
uint64_t serial_relay_bytes(const serial_relay *r, enum serial_dir dir);

/* Stops relaying and closes both ptys; no event is reported after this call.
 * `done` (may be NULL) runs on the loop when every handle is closed. */
void serial_relay_close(serial_relay *r, void (*done)(void *user), void *user);

#endif
