/* power_process: power for a process device. On = start the program; off =
 * SIGKILL of its whole process tree (a hard cut) or SIGTERM to every process of
 * the tree, then SIGKILL of the tree after a grace period (graceful). The
 * program runs under otahil-child's supervisor (drivers/child/child_tree.h),
 * which inherits every orphan of the tree (double-forked setsid daemons
 * included) and cuts the tree when the program exits on its own or otahil
 * dies, even by SIGKILL. The pid is the supervisor's; it exits with the
 * program's status once nothing of the tree is left, so "off" means the whole
 * tree is gone. The program's stdin/stdout/stderr are the console's terminal. */
#ifndef OTAHIL_POWER_PROCESS_H
#define OTAHIL_POWER_PROCESS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct power_process power_process;

/* Called when the program exits (and nothing of its tree is left), whether cut
 * or on its own; status and signal are the program's. */
typedef void (*power_process_exit_cb)(void *arg, int64_t status, int signal);

/* argv is copied. stdio_fd: the console's device side (or -1 for /dev/null). */
power_process *power_process_new(uv_loop_t *loop, char *const argv[], int stdio_fd,
                                 power_process_exit_cb cb, void *arg);

/* The program's environment: the harness's own with these "NAME=value" strings
 * put over it (copied; NULL-terminated). Returns 0, or -1 on a string without
 * '=' or out of memory (nothing changed then). Applies from the next power on. */
int power_process_set_env(power_process *p, char *const env[]);

/* Starts the program. Returns 0, or -1 with err (e.g. the file is missing). */
int power_process_on(power_process *p, char *err, size_t errlen);

/* Cuts power. `graceful`: SIGTERM first, SIGKILL after grace_ms. The exit callback
 * tells when the process is reaped. Returns 0 if a process was running, 1 if
 * the device was already off. */
int power_process_off(power_process *p, int graceful, unsigned grace_ms);

int power_process_is_on(const power_process *p);
int power_process_pid(const power_process *p);

/* Cuts a running device (its whole tree) and frees once it is reaped. */
void power_process_free(power_process *p);

#endif
