/* child_tree: otahil-child's device mode, a supervisor for a device's whole
 * process tree (private to otahil-child; child_guard.h has the command line).
 *
 * `otahil-child --tree PARENT_PID PROGRAM ARGS...` becomes a child subreaper
 * (PR_SET_CHILD_SUBREAPER: every orphan of the tree, a double-forked setsid
 * daemon included, is re-parented to it), starts PROGRAM (the device's main
 * process, in a process group of its own), and then only waits and signals:
 *   SIGTERM, SIGINT, SIGHUP, SIGQUIT  sent on to every process of the tree (a
 *                          graceful power off: the tree may take its time);
 *   CHILD_TREE_CUT         every process of the tree is stopped (SIGSTOP,
 *                          again until none is new: nothing forks away), then
 *                          SIGKILLed (a hard cut). It is also the PDEATHSIG:
 *                          otahil dying (even by SIGKILL) cuts the tree.
 * When the main process exits on its own, what it left behind is cut at once
 * (after a graceful signal it may finish until the cut comes). The supervisor
 * exits once no process of the tree is left, with the main process's status
 * (its signal raised again), so the pid otahil waits on, the status it reports
 * and "off once reaped" mean what they meant for the program alone. */
#ifndef OTAHIL_CHILD_TREE_H
#define OTAHIL_CHILD_TREE_H

#include <sys/types.h>

/* Runs the supervisor (see above); returns only a status for exit() when the
 * program could not be started (127) or the parent is already gone (0). */
int child_tree_run(pid_t parent, char **argv);

/* Sends sig to every process below this one. Returns how many were signalled. */
int child_tree_signal(int sig);

/* Stops every process below this one, then SIGKILLs them. Returns how many. */
int child_tree_kill(void);

#endif
