/* The typed lab_device (harness/lab/lab.h): a lab file becomes the fields the
 * runner and the devices read, and a bad one is one exact line; and the one
 * placeholder expansion (lab_placeholders.h). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check_run.h"
#include "../common/lab_text.h"
#include "../common/tmpdir.h"
#include "lab.h"
#include "lab_placeholders.h"

static char dir[256];

static void setup(void) { tmpdir_make(dir, sizeof dir, "otahil-labdev"); }
static void teardown(void) { tmpdir_remove(dir); }

static void touch(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs("x\n", f);
  fclose(f);
}

static const char full_lab[] =
    "device \"p1\" {\n"
    "  dialect = \"qcloud\", product = \"P1\", device = \"d1\", version = \"1.0.0\",\n"
    "  cmd = { \"{bindir}/otadev\", \"--port\", \"{mqtt_port}\", \"--tty\", \"{mcu_tty}\" },\n"
    "  graceful = true, env = { TOKEN = \"{secret}\", MODE = \"fast\" },\n"
    "  secret = \"s3\", auth = \"platform\",\n"
    "  network = { listen = \"127.0.0.1\", host = \"localhost\", http_port = 8080 },\n"
    "  tls = { ca = \"ca.pem\", cert = \"srv.pem\", key = \"srv.key\" },\n"
    "  console = { transport = \"tcp\", host = \"127.0.0.1\", tcp_port = 2000, death = { \"panic\" } },\n"
    "  deploy = { cmd = { \"flash\", \"{image}\" } }, base_image = \"base.bin\",\n"
    "  images = { good = { [\"2.0.0\"] = \"good.bin\" } },\n"
    "  timing = { boot = 2, download_timeout = 3.5 },\n"
    "  features = { \"power\", \"console\", \"mcu\" }, strict = { \"progress-rate\" },\n"
    "  modules = { MCU = \"1.0.0\" }, lines = { burning = \"burn%a+\" },\n"
    "}\n"
    "device \"b1\" {\n"
    "  dialect = \"aliyun\", product = \"P2\", device = \"d2\", version = \"2\",\n"
    "  kind = \"board\", power = { driver = \"exec\", on = { \"relay\", \"1\" }, off = { \"relay\", \"0\" } },\n"
    "  deploy = { cmd = { \"flash\" }, timeout = 60 },\n"
    "}\n";

static void expect_path(const char *got, const char *name) {
  char want[512];
  snprintf(want, sizeof want, "%s/%s", dir, name);
  ck_assert_str_eq(got, want);
}

START_TEST(a_process_device_becomes_fields) {
  touch("ca.pem"), touch("srv.pem"), touch("srv.key"), touch("base.bin"), touch("good.bin");
  lab *l = NULL;
  char err[1024] = "";
  ck_assert_msg(lab_text_load(dir, "lab.lua", full_lab, &l, err, sizeof err) == 0, "%s", err);
  const lab_device *d = &l->devices[0];
  ck_assert_str_eq(d->name, "p1");
  ck_assert_int_eq(d->line, 1);
  ck_assert_str_eq(d->dialect, "qcloud");
  ck_assert_str_eq(d->product, "P1");
  ck_assert_str_eq(d->device, "d1");
  ck_assert_str_eq(d->version, "1.0.0");
  ck_assert_str_eq(d->secret, "s3");
  ck_assert_int_eq(d->kind, LAB_PROCESS);
  ck_assert_int_eq(d->cmd.n, 5);
  ck_assert_str_eq(d->cmd.v[0], "{bindir}/otadev");
  ck_assert_ptr_null(d->cmd.v[5]);
  ck_assert_int_eq(d->graceful, 1);
  ck_assert_int_eq(d->env.n, 2);
  size_t t = strcmp(d->env.keys[0], "TOKEN") == 0 ? 0 : 1;
  ck_assert_str_eq(d->env.keys[t], "TOKEN");
  ck_assert_str_eq(d->env.values[t], "{secret}");
  ck_assert_str_eq(d->env.keys[1 - t], "MODE");
  ck_assert_ptr_null(d->power);
  ck_assert_str_eq(d->net.listen, "127.0.0.1");
  ck_assert_str_eq(d->net.host, "localhost");
  ck_assert_int_eq(d->net.mqtt_port, 0);
  ck_assert_int_eq(d->net.http_port, 8080);
  ck_assert_int_eq(d->tls.on, 1);
  expect_path(d->tls.ca, "ca.pem");
  expect_path(d->tls.cert, "srv.pem");
  expect_path(d->tls.key, "srv.key");
  ck_assert_ptr_null(d->tls.pki);
  ck_assert_int_eq(d->auth_platform, 1);
  ck_assert_int_eq(d->console.transport, CONSOLE_TCP);
  ck_assert_str_eq(d->console.host, "127.0.0.1");
  ck_assert_int_eq(d->console.tcp_port, 2000);
  ck_assert_int_eq(cJSON_GetArraySize(d->death), 1);
  ck_assert_int_eq(d->deploy.on, 1);
  ck_assert_int_eq(d->deploy.cmd.n, 2);
  ck_assert_str_eq(d->deploy.cmd.v[1], "{image}");
  ck_assert(d->deploy.timeout_s == 300.0);
  expect_path(d->base_image, "base.bin");
  expect_path(cJSON_GetObjectItem(cJSON_GetObjectItem(d->images, "good"), "2.0.0")->valuestring, "good.bin");
  ck_assert_int_eq(d->timing.n, 2);
  double v = 0;
  ck_assert_int_eq(lab_device_timing(d, "download_timeout", &v), 1);
  ck_assert(v == 3.5);
  ck_assert_int_eq(lab_device_timing(d, "boot", &v), 1);
  ck_assert(v == 2.0);
  ck_assert_int_eq(lab_device_timing(d, "boot_ms", &v), 0);
  ck_assert_int_eq(d->features.n, 3);
  ck_assert_int_eq(lab_device_has_feature(d, "mcu"), 1);
  ck_assert_int_eq(lab_device_has_feature(d, "serial"), 0);
  ck_assert_int_eq(d->strict.n, 1);
  ck_assert_str_eq(d->strict.v[0], "progress-rate");
  ck_assert_str_eq(d->modules.keys[0], "MCU");
  ck_assert_str_eq(d->modules.values[0], "1.0.0");
  ck_assert_str_eq(d->lines.values[0], "burn%a+");
  ck_assert_int_eq(d->uses_mcu_tty, 1);
  lab_free(l);
}
END_TEST

/* A board, and the defaults a short declaration gets. */
START_TEST(a_board_and_the_defaults) {
  touch("ca.pem"), touch("srv.pem"), touch("srv.key"), touch("base.bin"), touch("good.bin");
  lab *l = NULL;
  char err[1024] = "";
  ck_assert_msg(lab_text_load(dir, "lab.lua", full_lab, &l, err, sizeof err) == 0, "%s", err);
  const lab_device *d = &l->devices[1];
  ck_assert_int_eq(d->line, 15);
  ck_assert_int_eq(d->kind, LAB_BOARD);
  ck_assert_int_eq(d->cmd.n, 0);
  ck_assert_ptr_null(d->cmd.v[0]);
  ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(d->power, "driver")), "exec");
  ck_assert_ptr_null(d->secret);
  ck_assert_int_eq(d->auth_platform, 0);
  ck_assert_int_eq(d->tls.on, 0);
  ck_assert_ptr_null(d->tls.ca);
  ck_assert_str_eq(d->net.listen, "127.0.0.1");
  ck_assert_str_eq(d->net.host, "127.0.0.1");
  ck_assert_int_eq(d->console.transport, CONSOLE_PTY);
  ck_assert_ptr_null(d->death);
  ck_assert(d->deploy.timeout_s == 60.0);
  ck_assert_ptr_null(d->base_image);
  ck_assert_int_eq(d->timing.n, 0);
  ck_assert_int_eq(d->features.n, 2); /* power, console */
  ck_assert_int_eq(lab_device_has_feature(d, "power"), 1);
  ck_assert_int_eq(lab_device_has_feature(d, "console"), 1);
  ck_assert_int_eq(d->env.n + d->modules.n + d->lines.n + d->strict.n, 0);
  ck_assert_int_eq(d->uses_mcu_tty, 0);
  lab_free(l);
}
END_TEST

/* The whole message, as otahil prints it before exit 2. */
static void expect_exact(const char *text, const char *fmt_after_dir) {
  lab *l = NULL;
  char err[1024] = "", want[1024];
  ck_assert_int_eq(lab_text_load(dir, "lab.lua", text, &l, err, sizeof err), -1);
  ck_assert_ptr_null(l);
  snprintf(want, sizeof want, "%s/lab.lua%s", dir, fmt_after_dir);
  ck_assert_str_eq(err, want);
}

START_TEST(a_bad_lab_is_one_exact_line) {
  const char *head = "device \"ok\" { dialect = \"q\", product = \"P\", device = \"d\", version = \"1\", cmd = {\"x\"} }\n"
                     "\n"
                     "device \"b1\" {\n  dialect = \"q\", product = \"P\", device = \"d\", version = \"1\", cmd = {\"x\"},\n";
  char text[1024];
  snprintf(text, sizeof text, "%s  timing = { boot = -1 } }\n", head);
  expect_exact(text, ":3: device 'b1': timing.boot must be a number >= 0");
  snprintf(text, sizeof text, "%s  graceful = 1 }\n", head);
  expect_exact(text, ":3: device 'b1': graceful must be true or false");
  /* the first wrong key wins: images is checked before features */
  snprintf(text, sizeof text, "%s  features = { 1 }, images = { bad = 1 } }\n", head);
  expect_exact(text, ":3: device 'b1': images.bad is unknown (good, fail_boot, fail_burn)");
  snprintf(text, sizeof text, "%s  env = { [\"A B\"] = \"x\" } }\n", head);
  expect_exact(text, ":3: device 'b1': env: 'A B' is not a variable name");
  snprintf(text, sizeof text, "%s  base_image = \"nope.bin\" }\n", head);
  char want[600];
  snprintf(want, sizeof want, ":3: device 'b1': base_image: file '%s/nope.bin' does not exist", dir);
  expect_exact(text, want);
  snprintf(text, sizeof text, "%s  cmd = {\"x\", \"{mqtt_prot}\"} }\n", head);
  lab *l = NULL;
  char err[1024] = "";
  ck_assert_int_eq(lab_text_load(dir, "lab.lua", text, &l, err, sizeof err), -1);
  snprintf(want, sizeof want, "%s/lab.lua:3: device 'b1': cmd[2] uses the unknown placeholder {mqtt_prot} (known: bindir ",
           dir);
  ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "'%s' does not start with '%s'", err, want);
}
END_TEST

START_TEST(placeholders_expand_in_one_place) {
  const char *vars[] = {"a", "1", "bb", "two", "empty", "", NULL};
  char err[256] = "";
  char *s = lab_expand("x{a}-{bb}{empty}{ y", vars, err, sizeof err);
  ck_assert_str_eq(s, "x1-two{ y");
  free(s);
  ck_assert_ptr_null(lab_expand("{a}{nope}", vars, err, sizeof err));
  ck_assert_str_eq(err, "uses the unknown placeholder {nope}");
  ck_assert_ptr_null(lab_expand("{}", vars, err, sizeof err));
  ck_assert_str_eq(err, "uses the unknown placeholder {}");
  const char *strs[] = {"{a}", "{bb}/z"}, *names[] = {"A", "B"};
  size_t bad = 9;
  char **argv = lab_expand_all(2, strs, NULL, vars, &bad, err, sizeof err);
  ck_assert_str_eq(argv[0], "1");
  ck_assert_str_eq(argv[1], "two/z");
  ck_assert_ptr_null(argv[2]);
  lab_expand_free(argv);
  char **envp = lab_expand_all(2, strs, names, vars, &bad, err, sizeof err);
  ck_assert_str_eq(envp[0], "A=1");
  ck_assert_str_eq(envp[1], "B=two/z");
  lab_expand_free(envp);
  const char *worse[] = {"{a}", "{q}"};
  ck_assert_ptr_null(lab_expand_all(2, worse, NULL, vars, &bad, err, sizeof err));
  ck_assert_int_eq(bad, 1);
  ck_assert_str_eq(err, "uses the unknown placeholder {q}");
  argv = lab_expand_all(0, NULL, NULL, vars, &bad, err, sizeof err);
  ck_assert_ptr_null(argv[0]);
  lab_expand_free(argv);
}
END_TEST

int main(void) {
  Suite *s = suite_create("lab_device");
  TCase *tc = tcase_create("typed");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, a_process_device_becomes_fields);
  tcase_add_test(tc, a_board_and_the_defaults);
  tcase_add_test(tc, a_bad_lab_is_one_exact_line);
  tcase_add_test(tc, placeholders_expand_in_one_place);
  suite_add_tcase(s, tc);
  return check_run(s);
}
