/* device: a lab device at run time (console capture, power) and its Lua face.
 *
 * A device lives for the whole run; a scenario case "owns" it while it runs, and
 * the device's events (power, console lines) go into that case's event log.
 * Lua (t.device): the lab declaration's fields (name, product, device, version,
 * images, timing, features) plus
 *   dev:power_on{timeout=}             start the device (process: spawn its cmd)
 *   dev:power_off{graceful=false, timeout=5}   cut power; waits until it is off
 *   dev:power_cycle{delay=0, timeout=} off, delay seconds, on
 *   dev:power_state{timeout=}          "on" | "off" | "unknown" (a board's driver may not tell)
 *   dev:is_on()
 *   (the power methods: harness/lua/api_power.h; the state machine: device_power.h)
 *   dev:console_next{re= | contains=, timeout=10} -> event | nil, "timeout"
 *   dev:send(text)                     write to its console
 *   dev.uart                           its console as a raw stream (api_uart.h)
 */
#ifndef OTAHIL_DEVICE_H
#define OTAHIL_DEVICE_H

#include <lua.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "device_vars.h"
#include "evlog.h"
#include "lab.h"

typedef struct device device;


device *device_new(uv_loop_t *loop, const lab_device *lab, char *err, size_t errlen);

/* Binds the device to a case: events go to `log`; the cmd is expanded with `vars`.
 * Returns 0 or -1 with err (an unknown placeholder). */
int device_attach(device *d, evlog *log, const device_vars *vars, char *err, size_t errlen);

/* Runs the lab's deploy step for the case (device_deploy.h; after
 * device_attach, with its vars): once the power is off, the flashing command;
 * done(arg, 0 | -1, "file:line: device 'b1': deploy exited 3 after ...") at
 * its end. Returns 0 when started, 1 when the device has no deploy (done is
 * not called), -1 with err (an unknown placeholder). device_power_cut stops it. */
typedef void (*device_deploy_cb)(void *arg, int rc, const char *msg);
int device_run_deploy(device *d, const device_vars *vars, const char *lab_file, device_deploy_cb done, void *arg,
                      char *err, size_t errlen);

/* Cuts power (SIGKILL, or a board's driver off) if on. Returns 1 while a process
 * is still to be reaped or a driver call is running. */
int device_power_cut(device *d);
int device_is_on(const device *d);
/* 1 when the cleanup is over: no process to reap, no power call running. */
int device_settled(const device *d);
/* Milliseconds a board's cleanup may need beyond a process device's. */
unsigned device_cleanup_ms(const device *d);

/* Unbinds from the case (after the process is reaped). */
void device_detach(device *d);
const char *device_name(const device *d);
const lab_device *device_lab(const device *d);

/* Writes the raw console bytes of the current case (since device_attach) to
 * `path`, atomically. Returns 0 or -1 with err. */
int device_save_console(device *d, const char *path, char *err, size_t errlen);

/* Appends to `f` the console bytes of the case after the first *done of them
 * (bytes the capture no longer holds are skipped), and counts them into *done:
 * the live console file (harness/run/live.h). Returns 0, or -1 on a write error. */
int device_console_append(device *d, FILE *f, uint64_t *done);

/* Closes the console and frees once reaped; the loop must run afterwards. */
void device_free(device *d);

/* Pushes the Lua face of the device (see above). */
void device_push(lua_State *L, device *d);

#endif
