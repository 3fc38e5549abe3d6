/* The lab file's kind, cmd and power keys: boards are declarable, and every
 * mistake is one line "file:line: device 'b1': ..." naming the key. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/check_run.h"
#include "../common/lab_text.h"
#include "../common/tmpdir.h"
#include "lab.h"

static char dir[256];

static void setup(void) { tmpdir_make(dir, sizeof dir, "otahil-labpower"); }
static void teardown(void) { tmpdir_remove(dir); }

/* Writes `text` as DIR/rack1.lua and loads it; returns lab_load's result. */
static int load(const char *text, lab **out, char *err, size_t errlen) {
  return lab_text_load(dir, "rack1.lua", text, out, err, errlen);
}

#define HEAD "device \"b1\" {\n  dialect = \"qcloud\", product = \"P\", device = \"d\", version = \"1.0.0\",\n"

static void expect_error(const char *text, const char *where, const char *what) {
  lab_text_expect_error(dir, "rack1.lua", text, where, what);
}

START_TEST(boards_with_each_driver_load) {
  lab *l = NULL;
  char err[1024] = "";
  int rc = load(HEAD "  kind = \"board\",\n"
                "  power = { driver = \"pdudaemon\", daemon = \"http://127.0.0.1:16421\", hostname = \"pdu1\", port = 3, at_exit = \"off\" },\n}\n"
                "device \"b2\" { dialect = \"qcloud\", product = \"P\", device = \"e\", version = \"1\", kind = \"board\",\n"
                "  power = { driver = \"exec\", on = {\"relay\", \"{outlet}\", \"1\"}, off = {\"relay\", \"{outlet}\", \"0\"}, outlet = 4, timeout = 3 } }\n"
                "device \"b3\" { dialect = \"qcloud\", product = \"P\", device = \"f\", version = \"1\", kind = \"board\",\n"
                "  power = { driver = \"serial-dtr\", port = \"/dev/ttyUSB1\", line = \"rts\", active = \"low\" } }\n"
                "device \"b4\" { dialect = \"qcloud\", product = \"P\", device = \"g\", version = \"1\", kind = \"board\",\n"
                "  power = { driver = \"http\", on = { url = \"http://10.0.0.5/relay/0?turn=on\" },\n"
                "            off = { url = \"http://10.0.0.5/relay/0?turn=off\" }, state = { url = \"http://10.0.0.5/relay/0\", json = \"ison\" } } }\n"
                "device \"p1\" { dialect = \"qcloud\", product = \"P\", device = \"h\", version = \"1\", cmd = {\"x\"},\n"
                "  power = { driver = \"process\" } }\n",
                &l, err, sizeof err);
  ck_assert_msg(rc == 0, "%s", err);
  ck_assert_int_eq(l->count, 5);
  ck_assert_int_eq(l->devices[0].kind, LAB_BOARD);
  ck_assert_int_eq(l->devices[4].kind, LAB_PROCESS);
  lab_free(l);
}
END_TEST

START_TEST(unknown_driver_names_the_key_and_the_choices) {
  /* the issue's own example, at line 12 */
  expect_error("-- rack 1\n\n\n\n\n\n\n\n\n\n\n" HEAD "  kind = \"board\", power = { driver = \"pdu\" } }\n",
               "rack1.lua:12: device 'b1': ",
               "power.driver 'pdu' is unknown (process, exec, pdudaemon, serial-dtr, http)");
}
END_TEST

START_TEST(kind_cmd_and_power_go_together) {
  expect_error(HEAD "  kind = \"rack\", cmd = {\"x\"} }\n", "rack1.lua:1: device 'b1'", "kind 'rack' is unknown (process, board)");
  expect_error(HEAD "  kind = \"board\", cmd = {\"x\"}, power = { driver = \"exec\", on = {\"a\"}, off = {\"b\"} } }\n",
               "rack1.lua:1: device 'b1'", "cmd is for process devices; a board (kind = \"board\") is powered by its power driver");
  expect_error(HEAD "  kind = \"board\" }\n", "rack1.lua:1: device 'b1'",
               "key 'power' is missing (a board needs power = { driver = ... }: exec, pdudaemon, serial-dtr, http)");
  expect_error(HEAD "  cmd = {\"x\"}, power = { driver = \"exec\", on = {\"a\"}, off = {\"b\"} } }\n", "rack1.lua:1: device 'b1'",
               "power.driver 'exec' is for boards (kind = \"board\"); a process device's power is its process");
  expect_error(HEAD "  kind = \"board\", power = { driver = \"process\" } }\n", "rack1.lua:1: device 'b1'",
               "power.driver 'process' needs kind = \"process\" and a cmd");
  expect_error(HEAD "  cmd = {\"x\"}, power = { driver = \"process\", at_exit = \"on\" } }\n", "rack1.lua:1: device 'b1'",
               "power.at_exit is for boards: a process device is always stopped when the run ends");
  expect_error(HEAD "  kind = \"board\", power = \"pdu1:3\" }\n", "rack1.lua:1: device 'b1'",
               "power must be a table: power = { driver = \"exec\", ... }");
  /* what a process device always needed still holds */
  expect_error(HEAD "  kind = \"process\" }\n", "rack1.lua:1: device 'b1'", "key 'cmd' is missing (a process device needs its command)");
}
END_TEST

START_TEST(driver_keys_are_checked_in_the_lab) {
  expect_error(HEAD "  kind = \"board\", power = { driver = \"serial-dtr\", port = \"/dev/ttyUSB1\", line = \"cts\" } }\n",
               "rack1.lua:1: device 'b1'", "power.line 'cts' is unknown (dtr, rts)");
  expect_error(HEAD "  kind = \"board\", power = { driver = \"pdudaemon\", hostname = \"pdu1\", port = 3, at_exit = \"restore\" } }\n",
               "rack1.lua:1: device 'b1'", "power.at_exit 'restore' is unknown (on, off, leave)");
  expect_error(HEAD "  kind = \"board\", power = { driver = \"http\", on = { url = \"http://r/on\" }, off = { url = \"http://r/off\", method = \"GO\" } } }\n",
               "rack1.lua:1: device 'b1'", "power.off.method 'GO' is unknown (GET, POST, PUT, PATCH, DELETE)");
}
END_TEST

/* lab/examples/rack.lua loads once its firmware files exist (a copy with them). */
START_TEST(the_rack_example_loads) {
  lab *l = lab_text_load_rack_example(dir);
  ck_assert_int_eq(l->count, 2);
  ck_assert_int_eq(l->devices[0].kind, LAB_BOARD);
  const cJSON *p = cJSON_GetObjectItem(l->devices[1].spec, "power");
  ck_assert_str_eq(cJSON_GetObjectItem(p, "driver")->valuestring, "exec");
  lab_free(l);
}
END_TEST

int main(void) {
  Suite *s = suite_create("lab_power");
  TCase *tc = tcase_create("lab");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, boards_with_each_driver_load);
  tcase_add_test(tc, unknown_driver_names_the_key_and_the_choices);
  tcase_add_test(tc, kind_cmd_and_power_go_together);
  tcase_add_test(tc, driver_keys_are_checked_in_the_lab);
  tcase_add_test(tc, the_rack_example_loads);
  suite_add_tcase(s, tc);
  return check_run(s);
}
