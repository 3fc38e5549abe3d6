/* api_serial: the serial line between a module and its MCU, with faults (t.serial).
 *
 * For each case the runner opens one serial relay (netem/serial_relay.h): two
 * pseudo-terminals whose slave paths are given to the device's cmd as
 * {mcu_tty} (the module's side) and {mcu_peer_tty} (the MCU's side). Faults act
 * on the bytes as they cross; the seed derives from the case, so a case replays
 * alone exactly. The relay closes with the case: faults never outlive it.
 *
 * Lua (t.serial):
 *   s:corrupt{bytes = {...} | random = N [, within = W] | every = K, xor =, dir = "down"}  -> id
 *   s:drop{at = 0, count = N (0 = until cleared), dir = "down"}                           -> id
 *   s:clear()                      remove every fault
 *   s:bytes([dir])                 bytes relayed so far ("down" module -> MCU, "up")
 *   s:paths()                      -> module side path, MCU side path
 * Offsets count from the moment the fault is added. Every byte changed or
 * dropped is a "fault" event (stream "<device>/serial", dir, offset, action,
 * old_byte, new_byte). */
#ifndef OTAHIL_API_SERIAL_H
#define OTAHIL_API_SERIAL_H

#include "api.h"

typedef struct serialdev serialdev;

/* Opens the relay. Returns 0 or -1 with err. */
int serialdev_open(uv_loop_t *loop, const char *name, evlog *log, uint64_t seed,
                   serialdev **out, char *err, size_t errlen);
const char *serialdev_module_path(const serialdev *s);
const char *serialdev_mcu_path(const serialdev *s);

/* Removes every fault and closes the relay; nothing is logged after this. */
void serialdev_close(serialdev *s);

/* Pushes t.serial: nil for NULL (a device whose lab entry names no {mcu_tty} / {mcu_peer_tty}). */
void serialdev_push(lua_State *L, serialdev *s);

#endif
