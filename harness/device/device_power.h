/* device_power: a device's power during a run (the C state machine; its Lua
 * methods, dev:power_on and the rest, are harness/lua/api_power.h).
 *
 * kind = "process": power is the device's process (power_process.h, on the
 * loop): on = spawn the cmd, off = SIGKILL (or SIGTERM then SIGKILL with
 * graceful).
 * kind = "board": a driver of drivers/power/power.h. Its calls block, so they
 * run on libuv's thread pool, one at a time per device and in order; a caller
 * learns of its call's end through a callback (device_power_submit).
 *
 * Over a run: a case starts with the board off (so power_on boots it, as a
 * process device starts), the case's cleanup cuts power, and when the run ends
 * (all done, an error, Ctrl-C) power is left as power.at_exit says: "on",
 * "off", "leave", or by default the state before the run (read from the driver
 * where it can tell, else "on"). A board whose power was never switched is left
 * alone.
 *
 * Events: "power" {device, state = "cutting"|"on"|"off", how}, "power.state"
 * {device, state}, "power.error" {device, op, error}.
 */
#ifndef OTAHIL_DEVICE_POWER_H
#define OTAHIL_DEVICE_POWER_H

#include <uv.h>

#include "device_vars.h"
#include "evlog.h"
#include "lab.h"
#include "power.h"

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

/* ---- for callers that switch power (api_power.c) ------------------------ */

const char *device_power_name(const device_power *pw);
/* 1 for kind = "board" (a driver), 0 for a process device. */
int device_power_is_board(const device_power *pw);
/* 1 while bound to a case (between attach and detach). */
int device_power_attached(const device_power *pw);
uv_loop_t *device_power_loop(const device_power *pw);
/* A board's driver timeout in seconds (power_timeout). Boards only. */
double device_power_timeout(const device_power *pw);

/* Boards: a driver call, queued behind the calls before it. */
typedef enum { DEVICE_POWER_ON, DEVICE_POWER_OFF, DEVICE_POWER_CYCLE, DEVICE_POWER_STATE } device_power_op;
typedef struct device_power_call device_power_call;
/* done(arg, rc, state, err) when the call is over: rc 0 or -1 with err (the
 * driver's message); state is what a DEVICE_POWER_STATE call read. */
typedef void (*device_power_done_cb)(void *arg, int rc, power_state_t state, const char *err);
/* Queues op (timeout <= 0: the driver's; delay: seconds off in a cycle) and
 * returns the call, owned by pw until it is done. The event is logged either way. */
device_power_call *device_power_submit(device_power *pw, device_power_op op, double timeout, double delay,
                                       device_power_done_cb done, void *arg);
/* The caller stops waiting: done will not be called; the call itself goes on. */
void device_power_forget(device_power_call *c);

/* Process devices: starts the cmd and logs "on". Returns 0 or -1 with err. */
int device_power_start(device_power *pw, char *err, size_t errlen);
/* Process devices: logs "cutting" and cuts (SIGKILL, or SIGTERM then SIGKILL
 * with graceful); the "off" event follows when the process is reaped. */
void device_power_stop(device_power *pw, int graceful);
/* Process devices: the pid of the running process, or 0. */
int device_power_pid(const device_power *pw);

#endif
