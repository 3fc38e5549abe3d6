/* child_spawn: the one way otahil starts a child with libuv (child_spawn.h). */
#include "child_spawn.h"

#include "child_guard.h"

int child_spawn(uv_loop_t *loop, uv_process_t *proc, const child_spawn_opts *o, int *spawned, int *guarded) {
  *spawned = *guarded = 0;
  int rc = child_guard_check_exec(o->argv[0]);
  if (rc != 0) return rc;
  char **wrapped = o->tree ? child_guard_tree_argv(o->argv) : child_guard_argv(o->argv);
  uv_stdio_container_t none[3] = {{.flags = UV_IGNORE}, {.flags = UV_IGNORE}, {.flags = UV_IGNORE}};
  uv_process_options_t uo = {0};
  uo.file = wrapped ? wrapped[0] : o->argv[0];
  uo.args = wrapped ? wrapped : (char **)o->argv;
  uo.exit_cb = o->exit_cb;
  uo.stdio = o->stdio_count ? o->stdio : none;
  uo.stdio_count = o->stdio_count ? o->stdio_count : 3;
  uo.env = o->env;
  uo.flags = UV_PROCESS_DETACHED;
  rc = uv_spawn(loop, proc, &uo);
  child_guard_free(wrapped);
  *spawned = 1;
  *guarded = wrapped != NULL;
  return rc;
}
