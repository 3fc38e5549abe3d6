/* Lab files: every mistake is one line with file:line, the device and the key. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/check_run.h"
#include "../common/lab_text.h"
#include "../common/tmpdir.h"
#include "lab.h"
#include "lab_auth.h"
#include "lab_console.h"

static char dir[256];

static void setup(void) { tmpdir_make(dir, sizeof dir, "otahil-lab"); }
static void teardown(void) { tmpdir_remove(dir); }

/* Writes `text` as DIR/lab.lua and loads it; returns lab_load's result. */
static int load(const char *text, lab **out, char *err, size_t errlen) {
  return lab_text_load(dir, "lab.lua", text, out, err, errlen);
}

#define GOOD_HEAD "device \"b1\" {\n  dialect = \"qcloud\", product = \"P\", device = \"d\", version = \"1.0.0\",\n"

static void expect_error(const char *text, const char *where, const char *what) {
  lab_text_expect_error(dir, "lab.lua", text, where, what);
}

START_TEST(a_good_lab_loads) {
  lab *l = NULL;
  char err[1024] = "";
  int rc = load("-- two devices\n" GOOD_HEAD "  cmd = {\"/bin/true\"},\n"
                "  images = { good = { [\"2.0.0\"] = otadev_image{ version = \"2.0.0\", size = 4096 } } },\n"
                "  timing = { boot = 2 },\n}\n"
                "device \"b2\" { dialect = \"qcloud\", product = \"P\", device = \"e\", version = \"1\", cmd = {\"x\"} }\n",
                &l, err, sizeof err);
  ck_assert_msg(rc == 0, "%s", err);
  ck_assert_int_eq(l->count, 2);
  ck_assert_str_eq(l->devices[0].name, "b1");
  ck_assert_int_eq(l->devices[0].line, 2);
  ck_assert_str_eq(l->devices[1].device, "e");
  const cJSON *good = cJSON_GetObjectItem(cJSON_GetObjectItem(l->devices[0].spec, "images"), "good");
  const char *img = cJSON_GetObjectItem(good, "2.0.0")->valuestring;
  ck_assert_int_eq(access(img, R_OK), 0);
  lab_free(l);
}
END_TEST

START_TEST(unknown_key) {
  expect_error("\n\n" GOOD_HEAD "  cmd = {\"x\"}, powr = 1 }\n", "lab.lua:3: device 'b1'", "key 'powr' is unknown (dialect, product");
}
END_TEST

START_TEST(missing_key) {
  expect_error("device \"b1\" { dialect = \"qcloud\", product = \"P\", version = \"1\", cmd = {\"x\"} }\n",
               "lab.lua:1: device 'b1'", "key 'device' is missing");
}
END_TEST

START_TEST(wrong_type) {
  expect_error(GOOD_HEAD "  cmd = \"otadev --x\" }\n", "lab.lua:1: device 'b1'", "cmd must be a non-empty list");
  expect_error(GOOD_HEAD "  cmd = {\"x\"}, timing = { boot = \"slow\" } }\n", "lab.lua:1:", "timing.boot must be a number");
  {
    /* every timing knob is a cmd placeholder; there is room for 32 of them */
    char text[2048];
    int n = snprintf(text, sizeof text, GOOD_HEAD "  cmd = {\"x\"}, timing = {");
    for (int i = 0; i < 33; i++) n += snprintf(text + n, sizeof text - (size_t)n, " k%d = 1,", i);
    snprintf(text + n, sizeof text - (size_t)n, " } }\n");
    expect_error(text, "lab.lua:1: device 'b1'", "timing has 33 knobs; at most 32");
  }
}
END_TEST

/* Which dialects exist is the catalogue's (scenarios/lib/catalogue.lua, checked by
 * the runner: tests/harness/run/test_run_control.sh); the lab only wants a name. */
START_TEST(any_dialect_name_loads) {
  lab *l = NULL;
  char err[1024] = "";
  int rc = load("device \"b1\" { dialect = \"toy\", product = \"P\", device = \"d\", version = \"1\", cmd = {\"x\"} }\n",
                &l, err, sizeof err);
  ck_assert_msg(rc == 0, "%s", err);
  ck_assert_str_eq(l->devices[0].dialect, "toy");
  lab_free(l);
  expect_error("device \"b1\" { dialect = \"\", product = \"P\", device = \"d\", version = \"1\", cmd = {\"x\"} }\n",
               "lab.lua:1: device 'b1'", "key 'dialect' must be a non-empty string");
}
END_TEST

/* A placeholder nothing fills is exit 2 at the lab's line (it was an ERROR in every case). */
START_TEST(console_lines) {
  expect_error(GOOD_HEAD "  cmd = {\"x\"}, lines = { \"burn\" } }\n", "lab.lua:1: device 'b1'",
               "lines must map names to Lua patterns");
  expect_error(GOOD_HEAD "  cmd = {\"x\"}, lines = { burning = 3 } }\n", "lab.lua:1: device 'b1'",
               "lines.burning must be a Lua pattern");
  expect_error(GOOD_HEAD "  cmd = {\"x\"}, lines = { boot = \"\" } }\n", "lab.lua:1: device 'b1'",
               "lines.boot must be a Lua pattern");
}
END_TEST

START_TEST(unknown_placeholder) {
  expect_error(GOOD_HEAD "  cmd = {\"otadev\", \"--port\", \"{mqtt_prot}\"} }\n", "lab.lua:1: device 'b1'",
               "cmd[3] uses the unknown placeholder {mqtt_prot} (known: bindir root mqtt_host mqtt_port");
  expect_error(GOOD_HEAD "  cmd = {\"x\"}, env = { TOKEN = \"{secret}\" } }\n", "lab.lua:1: device 'b1'",
               "env.TOKEN uses the unknown placeholder {secret}");
  expect_error(GOOD_HEAD "  cmd = {\"x\"}, deploy = { cmd = { \"flash\", \"{image}\" } } }\n", "lab.lua:1: device 'b1'",
               "deploy.cmd[2] uses {image} but base_image is not set");
  lab *l = NULL;
  char err[1024] = "";
  int rc = load(GOOD_HEAD "  cmd = {\"x\", \"{boot_ms}\", \"{secret}\"}, secret = \"k\", timing = { boot_ms = 5 } }\n",
                &l, err, sizeof err);
  ck_assert_msg(rc == 0, "a timing knob and a declared secret are placeholders: %s", err);
  lab_free(l);
}
END_TEST

/* auth = "none" | "platform" (lab_auth.h): platform needs the secret; anything else is exit 2. */
START_TEST(auth_key) {
  expect_error("\n" GOOD_HEAD "  cmd = {\"x\"}, auth = \"foo\" }\n", "lab.lua:2: device 'b1'",
               "auth must be \"none\" or \"platform\"");
  expect_error(GOOD_HEAD "  cmd = {\"x\"}, auth = true }\n", "lab.lua:1: device 'b1'", "auth must be \"none\" or \"platform\"");
  expect_error(GOOD_HEAD "  cmd = {\"x\"}, auth = \"platform\" }\n", "lab.lua:1: device 'b1'",
               "auth = \"platform\" needs secret");
  lab *l = NULL;
  char err[1024] = "";
  ck_assert_msg(load(GOOD_HEAD "  cmd = {\"x\"}, auth = \"platform\", secret = \"k\" }\n"
                     "device \"b2\" {\n  dialect = \"qcloud\", product = \"P\", device = \"e\", version = \"1\",\n"
                     "  cmd = {\"x\"}, auth = \"none\" }\n", &l, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(lab_auth_platform(l->devices[0].spec), 1);
  ck_assert_int_eq(lab_auth_platform(l->devices[1].spec), 0);
  lab_free(l);
}
END_TEST

/* The power key's messages are tested one by one in tests/power/test_lab_power.c. */
START_TEST(board_power_driver_unknown) {
  expect_error(GOOD_HEAD "  kind = \"board\", power = { driver = \"pdu\", port = 3 } }\n", "lab.lua:1: device 'b1'",
               "power.driver 'pdu' is unknown (process, exec, pdudaemon, serial-dtr, http)");
  expect_error(GOOD_HEAD "  kind = \"board\" }\n", "lab.lua:1: device 'b1'", "key 'power' is missing (a board needs");
}
END_TEST

START_TEST(missing_image_file) {
  expect_error(GOOD_HEAD "  cmd = {\"x\"}, images = { good = { [\"2.0.0\"] = \"fw/nothing.bin\" } } }\n",
               "lab.lua:1: device 'b1'", "fw/nothing.bin' does not exist");
}
END_TEST

START_TEST(twice_and_syntax) {
  expect_error("device \"b1\" { dialect = \"qcloud\", product = \"P\", device = \"d\", version = \"1\", cmd = {\"x\"} }\n"
               "device \"b1\" { dialect = \"qcloud\", product = \"P\", device = \"d\", version = \"1\", cmd = {\"x\"} }\n",
               "lab.lua:2: device 'b1'", "declared twice (first at line 1)");
  expect_error("device \"b1\" {\n  dialect = \"qcloud\"\n  product = 1\n", "lab.lua:3:", "expected");
  expect_error("-- nothing\n", "lab.lua", "no device declared");
}
END_TEST

START_TEST(missing_lab_file) {
  lab *l = NULL;
  char err[512];
  ck_assert_int_eq(lab_load("/nonexistent/lab.lua", "/tmp", &l, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "/nonexistent/lab.lua"));
}
END_TEST

/* console = { ... } (lab_console.c): defaults, and a located error per wrong key. */
START_TEST(console_tables) {
  lab *l = NULL;
  char err[1024] = "";
  int rc = load(GOOD_HEAD "  cmd = {\"x\"},\n"
                "  console = { port = \"/dev/ttyUSB0\", parity = \"even\", death = { \"Kernel panic\", { re = \"Oops: [0-9]+\" } } } }\n"
                "device \"b2\" { dialect = \"qcloud\", product = \"P\", device = \"e\", version = \"1\", cmd = {\"x\"},\n"
                "  console = { transport = \"tcp\", host = \"127.0.0.1\", tcp_port = 2000, retry = 0.5 } }\n"
                "device \"b3\" { dialect = \"qcloud\", product = \"P\", device = \"f\", version = \"1\", cmd = {\"x\"}, console = {} }\n",
                &l, err, sizeof err);
  ck_assert_msg(rc == 0, "%s", err);
  console_config c;
  lab_console_config(l->devices[0].spec, &c);
  ck_assert_int_eq(c.transport, CONSOLE_SERIAL); /* inferred from port */
  ck_assert_str_eq(c.port, "/dev/ttyUSB0");
  ck_assert_int_eq(c.baud, 115200);
  ck_assert_int_eq(c.parity, 'e');
  ck_assert_int_eq(c.data_bits, 8);
  ck_assert_int_eq(c.stop_bits, 1);
  ck_assert_str_eq(c.flow, "none");
  ck_assert_int_eq(cJSON_GetArraySize(lab_console_death(l->devices[0].spec)), 2);
  lab_console_config(l->devices[1].spec, &c);
  ck_assert_int_eq(c.transport, CONSOLE_TCP);
  ck_assert_str_eq(c.host, "127.0.0.1");
  ck_assert_int_eq(c.tcp_port, 2000);
  ck_assert(c.retry_s == 0.5);
  ck_assert_ptr_null(lab_console_death(l->devices[1].spec));
  lab_console_config(l->devices[2].spec, &c);
  ck_assert_int_eq(c.transport, CONSOLE_PTY);
  lab_free(l);
}
END_TEST

START_TEST(console_errors) {
  static const lab_text_case cases[] = {
    {"\"ttyUSB0\"", "console must be a table"},
    {"{ colour = 1 }", "console.colour is unknown (transport, port, baud"},
    {"{ transport = \"usb\" }", "console.transport 'usb' is unknown (pty, serial, tcp, telnet)"},
    {"{ transport = 1 }", "console.transport must be one of pty, serial, tcp"},
    {"{ transport = \"serial\" }", "console.port is missing"},
    {"{ port = 5 }", "console.port must be a path"},
    {"{ port = \"/dev/ttyUSB0\", baud = \"fast\" }", "console.baud must be a whole number from 50 to 4000000"},
    {"{ port = \"/dev/ttyUSB0\", baud = 9600.5 }", "console.baud must be a whole number"},
    {"{ port = \"/dev/ttyUSB0\", data_bits = 9 }", "console.data_bits must be a whole number from 5 to 8"},
    {"{ port = \"/dev/ttyUSB0\", stop_bits = 3 }", "console.stop_bits must be a whole number from 1 to 2"},
    {"{ port = \"/dev/ttyUSB0\", parity = \"weird\" }", "console.parity 'weird' is unknown (none, odd, even, mark, space)"},
    {"{ port = \"/dev/ttyUSB0\", flow = \"hw\" }", "console.flow 'hw' is unknown (none, xonxoff, rtscts, dtrdsr)"},
    {"{ transport = \"tcp\", tcp_port = 2000 }", "console.host is missing"},
    {"{ transport = \"tcp\", host = \"h\" }", "console.tcp_port is missing"},
    {"{ host = \"h\", tcp_port = 70000 }", "console.tcp_port must be a whole number from 1 to 65535"},
    {"{ transport = \"tcp\", host = \"h\", tcp_port = 1, baud = 9600 }", "console.baud is for transport 'serial' (this console is 'tcp')"},
    {"{ transport = \"pty\", port = \"/dev/x\" }", "console.port is for transport 'serial' (this console is 'pty')"},
    {"{ retry = 0 }", "console.retry must be a number of seconds above 0"},
    {"{ death = \"panic\" }", "console.death must be a list of texts or { re = \"...\" }"},
    {"{ death = { \"ok\", { re = \"(\" } } }", "console.death[2]: bad regex '('"},
    {"{ death = { \"\" } }", "console.death[1] is empty"},
    {"{ death = { { regex = \"x\" } } }", "console.death[1]: console.death must be a list"},
  };
  lab_text_expect_errors(dir, "lab.lua", "\n" GOOD_HEAD "  cmd = {\"x\"}, console = %s }\n", "lab.lua:2: device 'b1': ",
                         cases, sizeof cases / sizeof *cases);
}
END_TEST

START_TEST(network_defaults_and_errors) {
  lab *l = NULL;
  char err[1024] = "";
  ck_assert_msg(load(GOOD_HEAD "  cmd = {\"x\"}, network = { listen = \"::1\", http_port = 8080 } }\n", &l,
                     err, sizeof err) == 0, "%s", err);
  const cJSON *net = cJSON_GetObjectItem(l->devices[0].spec, "network");
  ck_assert_str_eq(cJSON_GetObjectItem(net, "host")->valuestring, "::1"); /* host defaults to listen */
  ck_assert_int_eq(cJSON_GetObjectItem(net, "mqtt_port")->valueint, 0);
  ck_assert_int_eq(cJSON_GetObjectItem(net, "http_port")->valueint, 8080);
  lab_free(l);
  static const lab_text_case cases[] = {
    {"\"lan\"", "network must be a table"},
    {"{ lisen = \"127.0.0.1\" }", "network.lisen is unknown (listen, host, mqtt_port, http_port)"},
    {"{ listen = \"10.0.0.300\" }", "network.listen '10.0.0.300' is not an IPv4 or IPv6 address"},
    {"{ listen = \"lab-host\" }", "network.listen 'lab-host' is not an IPv4 or IPv6 address"},
    {"{ host = \"\" }", "network.host must be a host name or address the device can reach"},
    {"{ mqtt_port = 70000 }", "network.mqtt_port must be a port number 0..65535"},
    {"{ http_port = 80.5 }", "network.http_port must be a port number 0..65535"},
    {"{ mqtt_port = 1883, http_port = 1883 }", "network.mqtt_port and network.http_port are both 1883"},
  };
  lab_text_expect_errors(dir, "lab.lua", "\n" GOOD_HEAD "  cmd = {\"x\"}, network = %s }\n", "lab.lua:2: device 'b1': ",
                         cases, sizeof cases / sizeof *cases);
}
END_TEST

int main(void) {
  Suite *s = suite_create("lab");
  TCase *tc = tcase_create("errors");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, a_good_lab_loads);
  tcase_add_test(tc, unknown_key);
  tcase_add_test(tc, missing_key);
  tcase_add_test(tc, wrong_type);
  tcase_add_test(tc, any_dialect_name_loads);
  tcase_add_test(tc, unknown_placeholder);
  tcase_add_test(tc, console_lines);
  tcase_add_test(tc, board_power_driver_unknown);
  tcase_add_test(tc, auth_key);
  tcase_add_test(tc, missing_image_file);
  tcase_add_test(tc, twice_and_syntax);
  tcase_add_test(tc, missing_lab_file);
  tcase_add_test(tc, console_tables);
  tcase_add_test(tc, console_errors);
  tcase_add_test(tc, network_defaults_and_errors);
  suite_add_tcase(s, tc);
  return check_run(s);
}
