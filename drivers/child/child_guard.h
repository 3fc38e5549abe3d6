/* child_guard: children that die with the process that started them.
 *
 * A child otahil starts (the embedded broker, a process device, the MCU of a
 * SOTA module) must not outlive it: a harness killed with SIGKILL cannot clean
 * up, and a device left behind, re-parented to init, retries its dead proxies
 * for ever. Linux ties a child to its parent with PR_SET_PDEATHSIG, which must
 * be set in the child, between fork and exec. A plain fork() does it itself
 * (child_guard_arm); libuv's uv_spawn has no hook there, so its children are
 * started through `otahil-child PARENT_PID PROGRAM ARGS...`, a tiny program
 * that arms the guard and execs PROGRAM (same pid, so process-group kills and
 * reaping are unchanged): child_guard_argv builds that command line.
 */
#ifndef OTAHIL_CHILD_GUARD_H
#define OTAHIL_CHILD_GUARD_H

#include <stddef.h>
#include <signal.h>
#include <sys/types.h>

/* In a freshly forked child: SIGKILL this process when its parent dies
 * (PR_SET_PDEATHSIG; kept across exec). Returns 0, or -1 when the parent is
 * already gone (getppid() is no longer `parent`: it died before the guard was
 * set, so the signal will never come); the caller then _exits. Only system
 * calls: safe between fork and exec. */
int child_guard_arm(pid_t parent);

/* The command line that runs argv[] guarded, for uv_spawn's file and args:
 * {"<dir>/otahil-child", "<getpid()>", argv[0], argv[1], ..., NULL}. Returns
 * NULL when otahil-child is not found (then spawn argv[] as it is: the child
 * is not guarded) or on out of memory. Free with child_guard_free. */
char **child_guard_argv(char *const argv[]);
void child_guard_free(char **argv);

/* The same for a device whose whole process tree must go with its power:
 * {"<dir>/otahil-child", "--tree", "<getpid()>", argv[0], ..., NULL}, the
 * supervisor of child_tree.h. Signal it, not the device: SIGTERM for a
 * graceful power off (sent on to every process of the tree), CHILD_TREE_CUT
 * for a hard cut (the whole tree SIGKILLed); it exits with the device's
 * status once nothing of the tree is left. NULL as for child_guard_argv. */
char **child_guard_tree_argv(char *const argv[]);
#define CHILD_TREE_CUT SIGUSR1

/* What exec would say of `file` (searched in PATH unless it has a '/'):
 * 0 if it can be run, else a negative errno (-ENOENT, -EACCES), so that a
 * missing program is still an error at spawn time, not a child that exits 127. */
int child_guard_check_exec(const char *file);

#endif
