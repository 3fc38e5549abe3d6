/* rt_internal: what the files of the Lua runtime (rt*.c) share; not for the API modules. */
#ifndef OTAHIL_RT_INTERNAL_H
#define OTAHIL_RT_INTERNAL_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "rt.h"

#define RT_KEY "otahil.rt"
#define RT_LOADED "otahil.loaded"
#define FAIL_FIELD "__otahil_fail"
#define HOOK_EVERY 10000

typedef struct rt_task rt_task;

struct rt_wait {
  rt *R;
  rt_task *task;
  rt_check_fn check;
  void *data;
  void (*free_data)(void *);
  uv_timer_t timer;
  int armed;
};

struct rt_task {
  rt *R;
  lua_State *co;
  int ref; /* keeps the thread alive */
  int main;
  rt_wait *wait;
  rt_task *next;
};

typedef struct rt_closer {
  void (*fn)(void *);
  void *arg;
  struct rt_closer *next;
} rt_closer;

struct rt {
  rt_config cfg;
  lua_State *L;
  rt_mem mem; /* its limit is cfg.mem_limit */
  uint64_t instr;
  int runaway;            /* over the instruction budget: every instruction raises */
  double resume_t0;       /* monotonic seconds when the running resumption began */
  char runaway_msg[512];
  rt_task *tasks;
  rt_task *running;
  uv_timer_t *kick; /* defers wake-ups so a resume never nests in another */
  int kick_pending;
  int aborted, finished;
  rt_done_cb done;
  void *done_arg;
  rt_closer *closers;
};

/* rt_limits.c: the instruction hook (installed every HOOK_EVERY
 * instructions; the memory cap is rt_mem_alloc, in rt.h). */
void rt__hook(lua_State *L, lua_Debug *ar);

/* rt_sandbox.c: installs the allowed globals, require and the loaded table. */
void rt__sandbox(lua_State *L);

/* rt_error.c: the one-line text of the error value at idx of co, located (see
 * there); "file:line: " of co's innermost Lua frame, or ""; the message
 * handler of rt_pcall. */
void rt__error_text(lua_State *co, int idx, char *out, size_t len);
void rt__innermost(lua_State *co, char *out, size_t len);
int rt__msgh(lua_State *L);

#endif
