/* rt: the Lua runtime of one scenario run.
 *
 * A fresh, sandboxed lua_State per scenario (globals by allow-list, a locked
 * global table, `require` only from the scenario library folder), with a memory
 * cap and an instruction budget per resumption. Scenario code runs as tasks
 * (coroutines) on the libuv loop: every waiting call of the Lua API yields to the
 * loop through rt_wait_yield() and is resumed by its event or its timeout
 * (the lua-nginx-module pattern). Misuse raises a Lua error with file:line;
 * an expectation the device did not meet raises a FAIL object (rt_fail).
 *
 * Its files: rt.c (the state, made and freed), rt_limits.c (memory cap,
 * instruction budget, watchdog), rt_sandbox.c (globals, require, the locked
 * global table), rt_task.c (tasks, resumptions, waits), rt_error.c (one-line
 * messages at the author's line, FAIL, unknown keys); rt_internal.h is what
 * they share.
 */
#ifndef OTAHIL_RT_H
#define OTAHIL_RT_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "evlog.h"

typedef struct rt rt;
typedef struct rt_wait rt_wait;

typedef enum { RT_PASS = 0, RT_FAIL, RT_ERROR } rt_status;

typedef struct rt_config {
  uv_loop_t *loop;
  evlog *log;                 /* events of this scenario; waits scan it */
  const char *lib_dir;        /* where `require` looks first (scenarios/lib) */
  const char *const *lab_libs; /* then these folders, in order (NULL-terminated; NULL: none);
                                  rt_libs.h: a lab's own libraries, no shadowing */
  size_t mem_limit;           /* bytes; 0 = 64 MiB */
  uint64_t instr_budget;      /* Lua instructions per resumption; 0 = 200 million */
  double watchdog_s;          /* wall-clock seconds a resumption may hold the loop; 0 = 5 (scaled) */
  double timeout_multiplier;  /* scales every wait's timeout; 0 = 1 */
} rt_config;

/* Called once when the main task ends (not on rt_abort). `msg` is the first
 * failed expectation or the error with file:line; NULL on PASS. */
typedef void (*rt_done_cb)(void *arg, rt_status status, const char *msg);

rt *rt_new(const rt_config *cfg, char *err, size_t errlen);

/* Closes the Lua state. Pending waits are cancelled first (their timers close
 * asynchronously and free themselves). */
void rt_free(rt *R);

lua_State *rt_lua(rt *R);
rt *rt_from_lua(lua_State *L);
evlog *rt_log(rt *R);
uv_loop_t *rt_loop(rt *R);
double rt_scale(rt *R, double seconds); /* seconds * timeout multiplier */

/* Locks the global table: reading an undefined global or assigning a new one
 * raises an error with file:line. Call after the API modules are installed. */
void rt_lock_globals(rt *R);

/* Loads a Lua file as text only (no bytecode), in the sandbox. Pushes the chunk
 * or returns -1 with `err` holding "file: message". */
int rt_load_file(rt *R, const char *path, char *err, size_t errlen);

/* Calls the function below the `nargs` arguments on top of the stack, with
 * the limits of a resumption (instruction budget, watchdog). Returns 0 with
 * `nres` results pushed, or -1 with err = the one-line message with its
 * location (a non-string error value is described; a FAIL gives its message). */
int rt_pcall(rt *R, int nargs, int nres, char *err, size_t errlen);

/* Starts the function on top of the stack (followed by `nargs` arguments) as the
 * main task. `done` is called when it ends. */
int rt_start(rt *R, int nargs, rt_done_cb done, void *arg);

/* Starts the function at stack index `idx` of L as a background task of the
 * same scenario; an error in it ends the scenario like one in the main task. */
void rt_spawn(lua_State *L, int idx);

/* Stops everything: no task is resumed after this; pending waits are cancelled. */
void rt_abort(rt *R);

/* A wait's check: called when the event log grows (timed_out = 0) and once at
 * the timeout (timed_out = 1). Returns the number of values it pushed on `co`
 * for the resumed call (> 0), or 0 if the wait goes on (ignored on timeout:
 * then 0 pushes nil and "timeout"). */
typedef int (*rt_check_fn)(rt_wait *w, lua_State *co, int timed_out);

/* The whole of a waiting API call: `return rt_wait_yield(L, check, data, free_data, timeout)`.
 * Checks once at once (no yield if already satisfied), else yields to the loop.
 * timeout = +INFINITY waits for ever (until the scenario's deadline); a negative
 * or NaN timeout times out at once (a deadline already past). Data is freed with
 * free_data when the wait ends or is cancelled. */
int rt_wait_yield(lua_State *L, rt_check_fn check, void *data, void (*free_data)(void *),
                  double timeout_s);
/* rt_wait_yield for a call whose failure is a Lua error: when the check's
 * values are nil, why (at once or when resumed, a timeout's too), why is raised
 * at the caller's line (luaL_error); other values are the call's results. */
int rt_wait_yield_raise(lua_State *L, rt_check_fn check, void *data, void (*free_data)(void *),
                        double timeout_s);
/* The same for a call that ends at once: with n results on top, nil, why raises
 * why at the caller's line; else returns n. */
int rt_return_or_raise(lua_State *L, int n);
void *rt_wait_data(rt_wait *w);
rt *rt_wait_rt(rt_wait *w);

/* Wakes the pending waits to check again (after an event that is not in the log). */
void rt_poke(rt *R);

/* The wall-clock watchdog: raises an error ("file:line: held the loop N s
 * without waiting") when the running resumption has lasted longer than its
 * bound (rt_config.watchdog_s). Lua code is checked by the instruction hook;
 * long C calls of the sandbox (the pattern matcher) call this themselves. */
void rt_watchdog(lua_State *L);

/* Raises a FAIL (an expectation the device did not meet) with file:line of the
 * Lua caller at `level`. Never returns. */
int rt_fail(lua_State *L, int level, const char *fmt, ...);

/* Pushes "file:line: " of the author's line: the first Lua frame up the stack that
 * is neither an internal chunk (a "=name" source, e.g. the t.net wrappers) nor in
 * the scenario library (rt_config.lib_dir); else luaL_where(L, 1). For misuse
 * errors raised by API calls a library helper may have made for the scenario. */
void rt_where_author(lua_State *L);

/* Raises "<author's line>: what: unknown key 'k' (a, b, ...)" if the table at idx
 * has a string key not in `keys` (NULL-terminated), or a non-string key. */
void rt_check_keys(lua_State *L, int idx, const char *what, const char *const *keys);

/* A Lua allocator (lua_Alloc) with a cap, for rt's states and for states of
 * their own (the lab file's): ud is an rt_mem; an allocation that would take
 * `used` past `limit` fails (LUA_ERRMEM). */
typedef struct rt_mem {
  size_t used, limit;
} rt_mem;
void *rt_mem_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

/* Monotonic seconds: the watchdogs' clock. */
double rt_mono(void);

/* Registers a cleanup run when the scenario's state is freed (in reverse order):
 * the way API modules close clients and servers the scenario opened. */
void rt_on_close(rt *R, void (*fn)(void *arg), void *arg);

#endif
