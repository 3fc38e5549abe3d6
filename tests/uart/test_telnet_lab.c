/* console = { transport = "telnet", ... } in a lab file (harness/lab/lab_console.c):
 * the tcp keys and an optional baud, and a located one-line error per mistake. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check_run.h"
#include "../common/lab_text.h"
#include "../common/tmpdir.h"
#include "lab.h"
#include "lab_console.h"

static char dir[256];

static void setup(void) { tmpdir_make(dir, sizeof dir, "otahil-telnet-lab"); }
static void teardown(void) { tmpdir_remove(dir); }

#define HEAD(name) "device \"" name "\" { dialect = \"qcloud\", product = \"P\", device = \"" name "\", version = \"1\", cmd = {\"x\"},\n"

START_TEST(telnet_consoles_load) {
  lab *l = NULL;
  char err[1024] = "";
  int rc = lab_text_load(dir, "lab.lua",
                         HEAD("t1") "  console = { transport = \"telnet\", host = \"127.0.0.1\", tcp_port = 2000, retry = 0.5,\n"
                                    "              death = { \"Kernel panic\" } } }\n"
                         HEAD("t2") "  console = { transport = \"telnet\", host = \"rack-1\", tcp_port = 3001, baud = 9600 } }\n"
                         HEAD("t3") "  console = { host = \"127.0.0.1\", tcp_port = 2000 } }\n",
                         &l, err, sizeof err);
  ck_assert_msg(rc == 0, "%s", err);
  console_config c;
  lab_console_config(l->devices[0].spec, &c);
  ck_assert_int_eq(c.transport, CONSOLE_TELNET);
  ck_assert_str_eq(c.host, "127.0.0.1");
  ck_assert_int_eq(c.tcp_port, 2000);
  ck_assert(c.retry_s == 0.5);
  ck_assert_int_eq(c.baud, 0); /* no baud: RFC 2217 is not negotiated */
  ck_assert_ptr_null(c.port);
  ck_assert_ptr_nonnull(lab_console_death(l->devices[0].spec));
  lab_console_config(l->devices[1].spec, &c);
  ck_assert_int_eq(c.transport, CONSOLE_TELNET);
  ck_assert_str_eq(c.host, "rack-1");
  ck_assert_int_eq(c.tcp_port, 3001);
  ck_assert_int_eq(c.baud, 9600);
  /* the guess stays as it was: tcp_port without a transport is raw tcp */
  lab_console_config(l->devices[2].spec, &c);
  ck_assert_int_eq(c.transport, CONSOLE_TCP);
  lab_free(l);
}
END_TEST

START_TEST(telnet_console_errors) {
  static const lab_text_case cases[] = {
    {"{ transport = \"telnet\", tcp_port = 2000 }", "console.host is missing"},
    {"{ transport = \"telnet\", host = \"\", tcp_port = 2000 }", "console.host must be a host name or address"},
    {"{ transport = \"telnet\", host = \"h\" }", "console.tcp_port is missing"},
    {"{ transport = \"telnet\", host = \"h\", tcp_port = 0 }", "console.tcp_port must be a whole number from 1 to 65535"},
    {"{ transport = \"telnet\", host = \"h\", tcp_port = 1, baud = \"fast\" }",
     "console.baud must be a whole number from 50 to 4000000"},
    {"{ transport = \"telnet\", host = \"h\", tcp_port = 1, baud = 10 }",
     "console.baud must be a whole number from 50 to 4000000"},
    {"{ transport = \"telnet\", host = \"h\", tcp_port = 1, parity = \"even\" }",
     "console.parity is for transport 'serial' (this console is 'telnet')"},
    {"{ transport = \"telnet\", host = \"h\", tcp_port = 1, port = \"/dev/ttyUSB0\" }",
     "console.port is for transport 'serial' (this console is 'telnet')"},
    {"{ transport = \"tcp\", host = \"h\", tcp_port = 1, baud = 9600 }",
     "console.baud is for transport 'serial' (this console is 'tcp'); transport 'telnet' takes it too"},
    {"{ transport = \"serial\", port = \"/dev/ttyUSB0\", host = \"h\" }",
     "console.host is for transport 'tcp' or 'telnet' (this console is 'serial')"},
    {"{ transport = \"telnet\", host = \"h\", tcp_port = 1, retry = 0 }", "console.retry must be a number of seconds"},
    {"{ transport = \"telnet2217\" }", "console.transport 'telnet2217' is unknown (pty, serial, tcp, telnet)"},
  };
  lab_text_expect_errors(dir, "lab.lua", "\n" HEAD("b1") "  console = %s }\n", "lab.lua:2: device 'b1': ", cases,
                         sizeof cases / sizeof *cases);
}
END_TEST

int main(void) {
  Suite *s = suite_create("uart_telnet_lab");
  TCase *tc = tcase_create("lab");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, telnet_consoles_load);
  tcase_add_test(tc, telnet_console_errors);
  suite_add_tcase(s, tc);
  return check_run(s);
}
