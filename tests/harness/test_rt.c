/* The Lua runtime: sandbox, FAIL vs ERROR, instruction budget, memory cap, waits. */
#include <check.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "api.h"
#include "rt.h"

typedef struct result {
  int done;
  rt_status st;
  char msg[1024];
} result;

static void on_done(void *arg, rt_status st, const char *msg) {
  result *r = arg;
  r->done = 1;
  r->st = st;
  snprintf(r->msg, sizeof r->msg, "%s", msg ? msg : "");
}

static void on_deadline(uv_timer_t *t) { *(int *)t->data = 1; }

/* wait_raise(at_once, fail): a waiting call made with rt_wait_yield_raise; its
 * check ends it at once or at its 10 ms timeout, with "ok", 42 or nil, why. */
typedef struct wait_raise_data {
  int at_once, fail;
} wait_raise_data;

static int wait_raise_check(rt_wait *w, lua_State *co, int timed_out) {
  wait_raise_data *d = rt_wait_data(w);
  if (!d->at_once && !timed_out) return 0;
  if (d->fail) {
    lua_pushnil(co);
    lua_pushstring(co, "the device said no");
  } else {
    lua_pushstring(co, "ok");
    lua_pushinteger(co, 42);
  }
  return 2;
}

static int l_wait_raise(lua_State *L) {
  wait_raise_data *d = malloc(sizeof *d);
  ck_assert_ptr_nonnull(d);
  d->at_once = lua_toboolean(L, 1);
  d->fail = lua_toboolean(L, 2);
  lua_pushinteger(L, 99); /* the call's own value below the results: never returned */
  return rt_wait_yield_raise(L, wait_raise_check, d, free, 0.01);
}

/* Runs `code` as a scenario body named "t.lua" with the given limits, for at
 * most `deadline_ms` of loop time. Returns 1 if it ended, 0 if the deadline hit. */
static const char *lib_dir = "/nonexistent";

static int run_code(const char *code, size_t mem_limit, result *r, unsigned deadline_ms) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  evlog *log = evlog_new();
  rt_config cfg = {.loop = &loop, .log = log, .lib_dir = lib_dir, .mem_limit = mem_limit,
                   .instr_budget = 20000000};
  char err[256];
  rt *R = rt_new(&cfg, err, sizeof err);
  ck_assert_ptr_nonnull(R);
  lua_State *L = rt_lua(R);
  luaL_requiref(L, "otahil", api_open_core, 1);
  lua_pop(L, 1);
  luaL_requiref(L, "json", api_open_json, 1);
  lua_pop(L, 1);
  lua_register(L, "wait_raise", l_wait_raise);
  rt_lock_globals(R);
  memset(r, 0, sizeof *r);
  ck_assert_int_eq(luaL_loadbuffer(L, code, strlen(code), "@t.lua"), LUA_OK);
  int hit = 0;
  uv_timer_t deadline;
  uv_timer_init(&loop, &deadline);
  deadline.data = &hit;
  uv_timer_start(&deadline, on_deadline, deadline_ms, 0);
  rt_start(R, 0, on_done, r);
  while (!r->done && !hit) uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&deadline, NULL);
  rt_free(R);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0); /* no handle left behind */
  evlog_free(log);
  return r->done;
}

START_TEST(pass_returns) {
  result r;
  ck_assert(run_code("local x = 1 + 1", 0, &r, 2000));
  ck_assert_int_eq(r.st, RT_PASS);
}
END_TEST

START_TEST(denied_globals_error_with_location) {
  static const char *const denied[] = {"io.open('/etc/passwd')", "os.execute('true')",
                                       "dofile('x')", "loadfile('x')", "debug.getinfo(1)",
                                       "local p = package.loaded", "collectgarbage()", "coroutine.create(print)",
                                       "string.dump(print)", NULL};
  for (int i = 0; denied[i]; i++) {
    result r;
    ck_assert(run_code(denied[i], 0, &r, 2000));
    ck_assert_msg(r.st == RT_ERROR, "%s was allowed", denied[i]);
    ck_assert_msg(strstr(r.msg, "t.lua:1:") != NULL, "%s: no location in '%s'", denied[i], r.msg);
  }
}
END_TEST

START_TEST(new_globals_are_refused) {
  result r;
  ck_assert(run_code("x = 1", 0, &r, 2000));
  ck_assert_int_eq(r.st, RT_ERROR);
  ck_assert_ptr_nonnull(strstr(r.msg, "global 'x'"));
}
END_TEST

START_TEST(binary_chunks_are_refused) {
  result r;
  ck_assert(run_code("local f, e = load('\\27Lua') assert(f == nil and e:find('binary'))", 0, &r, 2000));
  ck_assert_int_eq(r.st, RT_PASS);
}
END_TEST

START_TEST(fail_is_not_error) {
  result r;
  ck_assert(run_code("\n\notahil.expect(1 == 2, 'the device said 2')", 0, &r, 2000));
  ck_assert_int_eq(r.st, RT_FAIL);
  ck_assert_str_eq(r.msg, "t.lua:3: the device said 2");
  ck_assert(run_code("local t = nil\nlocal x = t.field", 0, &r, 2000));
  ck_assert_int_eq(r.st, RT_ERROR);
  ck_assert_ptr_nonnull(strstr(r.msg, "t.lua:2:"));
}
END_TEST

START_TEST(runaway_loop_is_stopped) {
  result r;
  ck_assert(run_code("local n = 0\nwhile true do n = n + 1 end", 0, &r, 10000));
  ck_assert_int_eq(r.st, RT_ERROR);
  ck_assert_ptr_nonnull(strstr(r.msg, "t.lua:2:"));
  ck_assert_msg(strstr(r.msg, "instruction budget") != NULL, "%s", r.msg);
}
END_TEST

START_TEST(memory_cap_is_enforced) {
  result r;
  ck_assert(run_code("local t = {}\nfor i = 1, 1e9 do t[i] = ('x'):rep(1000) .. i end", 4u << 20, &r, 10000));
  ck_assert_int_eq(r.st, RT_ERROR);
  ck_assert_ptr_nonnull(strstr(r.msg, "memory"));
}
END_TEST

START_TEST(sleep_yields_to_the_loop) {
  result r;
  ck_assert(run_code("local t0 = otahil.now()\notahil.sleep(0.05)\nlocal dt = otahil.now() - t0\n"
                     "otahil.expect(dt >= 0.045 and dt < 1, 'slept ' .. dt)",
                     0, &r, 2000));
  ck_assert_msg(r.st == RT_PASS, "%s", r.msg);
}
END_TEST

START_TEST(waits_time_out_and_see_later_events) {
  result r;
  /* a background task logs an event later; the main task waits for it */
  ck_assert(run_code("otahil.spawn(function() otahil.sleep(0.02) otahil.event('ping', {n = 7}) end)\n"
                     "local ev = otahil.next_event({kind = 'ping'}, {timeout = 1})\n"
                     "otahil.expect(ev and ev.n == 7, 'no ping')\n"
                     "local none, why = otahil.next_event({kind = 'never'}, {timeout = 0.02})\n"
                     "otahil.expect(none == nil and why == 'timeout', 'expected a timeout')",
                     0, &r, 3000));
  ck_assert_msg(r.st == RT_PASS, "%s", r.msg);
}
END_TEST

START_TEST(endless_wait_does_not_end_by_itself) {
  result r;
  /* no timeout: only the runner's deadline can end it (it then aborts the state) */
  ck_assert(!run_code("otahil.next_event({kind = 'never'}, {timeout = math.huge})", 0, &r, 200));
}
END_TEST

START_TEST(expect_called_with_a_colon_still_fails) {
  result r;
  ck_assert(run_code("otahil:expect(false, 'colon')", 0, &r, 2000));
  ck_assert_int_eq(r.st, RT_FAIL);
  ck_assert_ptr_nonnull(strstr(r.msg, "colon"));
  ck_assert(run_code("otahil:expect(1 == 1, 'fine')", 0, &r, 2000));
  ck_assert_msg(r.st == RT_PASS, "%s", r.msg);
}
END_TEST

START_TEST(a_fail_in_the_library_points_at_the_scenario) {
  char dir[] = "/tmp/otahil-rt-lib-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[300];
  snprintf(path, sizeof path, "%s/helper.lua", dir);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs("local M = {}\nfunction M.check(x)\n  if not x then otahil.fail('bad value', 1) end\nend\nreturn M\n", f);
  fclose(f);
  lib_dir = dir;
  result r;
  ck_assert(run_code("local h = require 'helper'\nh.check(true)\nh.check(false)", 0, &r, 2000));
  lib_dir = "/nonexistent";
  unlink(path);
  rmdir(dir);
  ck_assert_int_eq(r.st, RT_FAIL);
  ck_assert_msg(strncmp(r.msg, "t.lua:3: bad value", 18) == 0, "%s", r.msg);
  ck_assert_msg(strstr(r.msg, "helper.lua:3)") != NULL, "%s", r.msg);
}
END_TEST

START_TEST(print_logs_exactly_its_arguments) {
  result r;
  ck_assert(run_code("print('x', 1, nil)\n"
                     "local e = otahil.next_event({kind = 'log'}, {timeout = 0.1})\n"
                     "otahil.expect(e and e.msg == 'x\\t1\\tnil', 'logged: ' .. tostring(e and e.msg))",
                     0, &r, 2000));
  ck_assert_msg(r.st == RT_PASS, "%s", r.msg);
}
END_TEST

START_TEST(json_decode_refuses_data_after_the_value) {
  result r;
  ck_assert(run_code("local j, why = json.decode('{\"a\":1} junk')\n"
                     "otahil.expect(j == nil and why:find('byte 8', 1, true), 'got ' .. tostring(why))\n"
                     "otahil.expect(json.decode(' {\"a\":1}\\n ').a == 1, 'white space refused')",
                     0, &r, 2000));
  ck_assert_msg(r.st == RT_PASS, "%s", r.msg);
}
END_TEST

START_TEST(a_past_deadline_times_out_at_once) {
  result r;
  /* a library computing `deadline - now()` may pass a negative timeout: it must
   * time out at once, never wait for ever */
  ck_assert(run_code("local t0 = otahil.now()\n"
                     "local none, why = otahil.next_event({kind = 'never'}, {timeout = -0.001})\n"
                     "otahil.expect(none == nil and why == 'timeout', 'expected a timeout')\n"
                     "local ok = otahil.next_event({kind = 'never'}, {timeout = 0/0})\n"
                     "otahil.expect(otahil.now() - t0 < 0.5, 'waited')",
                     0, &r, 2000));
  ck_assert_msg(r.st == RT_PASS, "%s", r.msg);
}
END_TEST

START_TEST(error_in_background_task_ends_the_scenario) {
  result r;
  ck_assert(run_code("otahil.spawn(function() error('boom') end)\notahil.sleep(5)", 0, &r, 3000));
  ck_assert_int_eq(r.st, RT_ERROR);
  ck_assert_ptr_nonnull(strstr(r.msg, "boom"));
}
END_TEST

START_TEST(a_raising_wait_raises_at_the_callers_line) {
  result r;
  /* rt_wait_yield_raise: results as they are; nil, why raised at the caller's
   * line, at once and after the wait (the continuation) alike */
  ck_assert(run_code("local a, b = wait_raise(false, false)\n"
                     "otahil.expect(a == 'ok' and b == 42, 'after a wait: ' .. tostring(a) .. ' ' .. tostring(b))\n"
                     "local c, d = wait_raise(true, false)\n"
                     "otahil.expect(c == 'ok' and d == 42, 'at once: ' .. tostring(c) .. ' ' .. tostring(d))\n"
                     "local ok, err = pcall(function() local x = wait_raise(false, true) return x end)\n"
                     "otahil.expect(not ok and err == 't.lua:5: the device said no', 'after a wait: ' .. tostring(err))\n"
                     "local ok2, err2 = pcall(function() local x = wait_raise(true, true) return x end)\n"
                     "otahil.expect(not ok2 and err2 == 't.lua:7: the device said no', 'at once: ' .. tostring(err2))\n",
                     0, &r, 3000));
  ck_assert_msg(r.st == RT_PASS, "%s", r.msg);
}
END_TEST

Suite *rt_suite(void) {
  Suite *s = suite_create("rt");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, pass_returns);
  tcase_add_test(tc, denied_globals_error_with_location);
  tcase_add_test(tc, new_globals_are_refused);
  tcase_add_test(tc, binary_chunks_are_refused);
  tcase_add_test(tc, fail_is_not_error);
  tcase_add_test(tc, runaway_loop_is_stopped);
  tcase_add_test(tc, memory_cap_is_enforced);
  tcase_add_test(tc, sleep_yields_to_the_loop);
  tcase_add_test(tc, a_past_deadline_times_out_at_once);
  tcase_add_test(tc, print_logs_exactly_its_arguments);
  tcase_add_test(tc, a_fail_in_the_library_points_at_the_scenario);
  tcase_add_test(tc, expect_called_with_a_colon_still_fails);
  tcase_add_test(tc, json_decode_refuses_data_after_the_value);
  tcase_add_test(tc, waits_time_out_and_see_later_events);
  tcase_add_test(tc, endless_wait_does_not_end_by_itself);
  tcase_add_test(tc, error_in_background_task_ends_the_scenario);
  tcase_add_test(tc, a_raising_wait_raises_at_the_callers_line);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(rt_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
