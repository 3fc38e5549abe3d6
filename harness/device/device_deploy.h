/* device_deploy: a device's deploy step (lab key `deploy`, lab_deploy.h),
 * what LAVA calls a deploy action.
 *
 * A board keeps its flash between cases, so before every case, with the
 * device's power off, otahil runs the lab's flashing command to put the lab's
 * base firmware back (`deploy = { cmd = { "st-flash", "write", "{image}",
 * "0x08000000" }, timeout = 120 }`). The command is an argv list (no shell)
 * whose {placeholders} are filled the way a process device's cmd is
 * (lab_expand, lab_placeholders.h) plus {image} = base_image. It runs on the loop (uv_spawn) in a
 * session of its own, stdin /dev/null; its stdout and stderr lines go to the
 * case's event log. At the timeout, or when the case is stopped (Ctrl-C), its
 * whole process group is killed; it is always reaped.
 *
 * Events: "deploy" {device, state = "start", argv, timeout}, "deploy.out"
 * {device, stream = "stdout" | "stderr", line}, "deploy" {device, state =
 * "done" | "failed" | "killed", seconds, status | signal | error}.
 */
#ifndef OTAHIL_DEVICE_DEPLOY_H
#define OTAHIL_DEVICE_DEPLOY_H

#include <stddef.h>
#include <uv.h>

#include "device.h"
#include "evlog.h"
#include "lab.h"

typedef struct device_deploy device_deploy;

/* The end of one deploy is a device_deploy_cb (device.h): rc 0, or -1 with
 * msg = one line "file:line: device 'b1': deploy exited 3 after 2.1 s: <the
 * last stderr line> (see the case log)". */

/* Whether the power is off: 1 yes, 0 not yet (a power call is running), -1
 * it will not be (a failed power call). */
typedef int (*device_deploy_ready_fn)(void *arg);

/* NULL when the lab device has no deploy key. `lab_file` names the lab in
 * messages; both must outlive the object. */
device_deploy *device_deploy_new(uv_loop_t *loop, const lab_device *lab, const char *lab_file);

/* Starts a case's deploy: argv is expanded now with `vars` (plus {image});
 * the command starts once ready(ready_arg) says the power is off (waiting at
 * most ready_s seconds), and done(arg, ...) is called when it ends, unless
 * device_deploy_stop came first. Events go to `log`. Returns 0, or -1 with err
 * (an unknown placeholder, or a deploy still running). */
int device_deploy_start(device_deploy *dp, evlog *log, const device_vars *vars, device_deploy_ready_fn ready,
                        void *ready_arg, double ready_s, device_deploy_cb done, void *arg, char *err,
                        size_t errlen);

/* Stops a running deploy (the case is being cleaned up): kills the process
 * group; done is not called. No event is logged after this returns. */
void device_deploy_stop(device_deploy *dp);

/* 1 while a deploy has a process to reap or handles to close. */
int device_deploy_busy(const device_deploy *dp);

/* Stops and frees once everything is closed; the loop must run afterwards. */
void device_deploy_free(device_deploy *dp);

#endif
