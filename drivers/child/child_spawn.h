/* child_spawn: the one way otahil starts a child with libuv (the broker, a
 * deploy step, a process device's power): exec checked first (a missing
 * program is an error now, not a child that exits 127), started through
 * otahil-child (child_guard.h) so that it dies with a killed otahil, in its
 * own session (a Ctrl-C at the terminal reaches the harness only, which then
 * stops it; a process-group kill reaches all it started). */
#ifndef OTAHIL_CHILD_SPAWN_H
#define OTAHIL_CHILD_SPAWN_H

#include <uv.h>

typedef struct child_spawn_opts {
  char *const *argv;           /* argv[0] is searched in PATH unless it has a '/' */
  int tree;                    /* 1: under otahil-child --tree (child_tree.h), for a device */
  uv_stdio_container_t *stdio; /* stdio_count entries (0: all ignored) */
  int stdio_count;
  char **env;                  /* NULL: otahil's environment */
  uv_exit_cb exit_cb;
} child_spawn_opts;

/* Starts the child into `proc` (initialised by the call; on success close it
 * with uv_close once it exited). Returns 0, or a negative libuv error (the
 * exec check's or uv_spawn's: say it with uv_strerror); after a uv_spawn
 * failure `proc` is initialised and must be uv_close'd, after an exec check
 * failure it is untouched (*spawned is 0 then). *guarded is 1 when the child
 * runs under otahil-child (0 when the wrapper was not found). */
int child_spawn(uv_loop_t *loop, uv_process_t *proc, const child_spawn_opts *o, int *spawned, int *guarded);

#endif
