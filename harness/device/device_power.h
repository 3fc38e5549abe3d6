/* device_power: a device's power during a run, and its Lua methods.
 *
 * kind = "process": power is the device's process (power_process.h, on the
 * loop), exactly as before: on = spawn the cmd, off = SIGKILL (or SIGTERM then
 * SIGKILL with graceful).
 * kind = "board": a driver of drivers/power/power.h. Its calls block, so they
 * run on libuv's thread pool, one at a time per device and in order; a Lua call
 * yields until its call is done (or its wait times out).
 *
 * Over a run: a case starts with the board off (so power_on boots it, as a
 * process device starts), the case's cleanup cuts power, and when the run ends
 * (all done, an error, Ctrl-C) power is left as power.at_exit says: "on",
 * "off", "leave", or by default the state before the run (read from the driver
 * where it can tell, else "on"). A board whose power was never switched is left
 * alone.
 *
 * Lua, on t.device (each raises an error naming the device and driver when the
 * driver fails; options are optional):
 *   dev:power_on{timeout=}              -> true
 *   dev:power_off{graceful=false, timeout=} -> true (graceful: process devices)
 *   dev:power_cycle{delay=0, timeout=}  -> true: off, delay seconds, on
 *   dev:power_state{timeout=}           -> "on" | "off" | "unknown"
 *   dev:is_on()                         -> the last known state is on
 * Events: "power" {device, state = "cutting"|"on"|"off", how}, "power.state"
 * {device, state}, "power.error" {device, op, error}.
 */
#ifndef OTAHIL_DEVICE_POWER_H
#define OTAHIL_DEVICE_POWER_H

#include <lua.h>
#include <uv.h>

#include "device.h"
#include "evlog.h"
#include "lab.h"

typedef struct device_power device_power;

/* flush(arg) runs before a process device's "off" event is logged (so the
 * console lines it printed come first). */
device_power *device_power_new(uv_loop_t *loop, const lab_device *lab, void (*flush)(void *), void *arg,
                               char *err, size_t errlen);

/* Binds to a case: events go to `log`. Process devices: the cmd is expanded
 * with vars and gets stdio_fd as its stdin/stdout/stderr. Boards: vars fill the
 * driver's {placeholders}; the board is switched off if it may be on. Returns
 * 0 or -1 with err (an unknown placeholder in cmd). */
int device_power_attach(device_power *pw, evlog *log, const device_vars *vars, int stdio_fd, char *err,
                        size_t errlen);
void device_power_detach(device_power *pw);

/* Cleanup: cuts power (SIGKILL, or the driver's off). */
void device_power_cleanup(device_power *pw);
/* 1 when nothing is left to finish: no process to reap, no driver call running. */
int device_power_settled(const device_power *pw);
int device_power_is_on(const device_power *pw);
/* 1 when the power is off and no call is running (before a deploy), 0 while a
 * call runs, -1 when a board's last call failed (its state is unknown). */
int device_power_is_off(const device_power *pw);
/* A process device's cmd as the last attach expanded it (a JSON array of strings), or
 * NULL (a board, or not attached yet). Owned by pw. */
const cJSON *device_power_argv(const device_power *pw);

/* Milliseconds a cleanup may take beyond the usual (a board's driver timeout). */
unsigned device_power_cleanup_ms(const device_power *pw);

/* Applies power.at_exit (boards) or kills the process, and frees once the last
 * call is done; the loop must run afterwards. */
void device_power_free(device_power *pw);

/* The Lua methods; each takes the device's power as found by device.c. */
int device_power_l_on(lua_State *L, device_power *pw);
int device_power_l_off(lua_State *L, device_power *pw);
int device_power_l_cycle(lua_State *L, device_power *pw);
int device_power_l_state(lua_State *L, device_power *pw);
int device_power_l_is_on(lua_State *L, device_power *pw);

/* Wraps the power methods of the methods table at idx so that a failed call
 * raises its message at the scenario's line (the C functions return nil, why). */
void device_power_wrap(lua_State *L, int idx);

#endif
