/* Power drivers against real parts: commands (exec), a loopback HTTP relay
 * (http), Debian's pdudaemon with its localcmdline driver (pdudaemon), a
 * pseudo-terminal (serial-dtr). Every message a lab engineer can get is checked. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/tmpdir.h"
#include "power.h"

static char dir[256];
static pid_t server = -1;
static int server_port, server_out = -1;
static char err[2048];

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void setup(void) {
  tmpdir_make(dir, sizeof dir, "otahil-power");
  err[0] = 0;
}

static void teardown(void) {
  if (server_out >= 0) close(server_out);
  server_out = -1;
  if (server > 0) {
    kill(-server, SIGKILL);
    waitpid(server, NULL, 0);
    server = -1;
  }
  tmpdir_remove(dir);
}

/* Replaces every "DIR" in s with the test's folder. */
static char *with_dir(const char *s) {
  static char out[8192];
  size_t n = 0;
  while (*s && n + strlen(dir) + 1 < sizeof out) {
    if (strncmp(s, "DIR", 3) == 0) {
      n += (size_t)snprintf(out + n, sizeof out - n, "%s", dir);
      s += 3;
    } else if (strncmp(s, "PORT", 4) == 0) {
      n += (size_t)snprintf(out + n, sizeof out - n, "%d", server_port);
      s += 4;
    } else {
      out[n++] = *s++;
    }
  }
  out[n] = 0;
  return out;
}

static power *make(const char *json) {
  cJSON *cfg = cJSON_Parse(with_dir(json));
  ck_assert_msg(cfg != NULL, "bad JSON in the test: %s", json);
  power *p = NULL;
  int rc = power_new(cfg, "b1", &p, err, sizeof err);
  cJSON_Delete(cfg);
  ck_assert_msg(rc == 0, "power_new: %s", err);
  return p;
}

static char *slurp(const char *name) {
  static char buf[8192];
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "r");
  buf[0] = 0;
  if (!f) return buf;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

#define ASSERT_ERR(...)                                                                              \
  do {                                                                                               \
    const char *want_[] = {__VA_ARGS__, NULL};                                                       \
    for (int i_ = 0; want_[i_]; i_++) ck_assert_msg(strstr(err, want_[i_]), "'%s' lacks '%s'", err, want_[i_]); \
    ck_assert_msg(!strchr(err, '\n'), "'%s' is not one line", err);                                 \
  } while (0)

static const char *const vars[] = {"name", "b1", "device", "dev-1", "product", "P1", NULL};
static power_opts opts(double timeout, double delay) {
  power_opts o = {timeout, delay, vars};
  return o;
}

/* ---- configuration errors ------------------------------------------------ */

static void bad(const char *json, const char *want) {
  cJSON *cfg = cJSON_Parse(json);
  ck_assert_msg(cfg != NULL, "bad JSON in the test: %s", json);
  ck_assert_int_eq(power_check(cfg, err, sizeof err), -1);
  ck_assert_msg(strstr(err, want) != NULL, "'%s' lacks '%s'", err, want);
  ck_assert_msg(!strchr(err, '\n'), "'%s' is not one line", err);
  power *p = NULL;
  ck_assert_int_eq(power_new(cfg, "b1", &p, err, sizeof err), -1);
  ck_assert_ptr_null(p);
  cJSON_Delete(cfg);
}

START_TEST(config_errors) {
  bad("{\"driver\":\"pdu\"}", "power.driver 'pdu' is unknown (process, exec, pdudaemon, serial-dtr, http)");
  bad("[1]", "power must be a table");
  bad("{\"port\":1}", "power.driver is missing (process, exec");
  bad("{\"driver\":\"exec\",\"on\":[\"x\"],\"off\":[\"x\"],\"timeout\":0}", "power.timeout must be a number > 0");
  bad("{\"driver\":\"exec\",\"on\":[\"x\"],\"off\":[\"x\"],\"at_exit\":\"maybe\"}",
      "power.at_exit 'maybe' is unknown (on, off, leave)");
  /* exec */
  bad("{\"driver\":\"exec\",\"off\":[\"x\"]}", "power.on is missing (the exec driver needs it");
  bad("{\"driver\":\"exec\",\"on\":\"relay on\",\"off\":[\"x\"]}", "power.on must be a non-empty list of strings");
  bad("{\"driver\":\"exec\",\"on\":[\"x\",1],\"off\":[\"x\"]}", "power.on must hold only strings");
  bad("{\"driver\":\"exec\",\"on\":[\"x\"],\"off\":[\"x\"],\"outlet\":[1]}",
      "power.outlet must be a string or a number (a {outlet} placeholder");
  /* pdudaemon */
  bad("{\"driver\":\"pdudaemon\",\"port\":3}", "power.hostname is missing (the pdudaemon driver needs hostname and port, or alias)");
  bad("{\"driver\":\"pdudaemon\",\"hostname\":\"pdu1\"}", "power.port is missing");
  bad("{\"driver\":\"pdudaemon\",\"hostname\":\"pdu1\",\"port\":1.5}", "power.port must be the PDU's outlet number");
  bad("{\"driver\":\"pdudaemon\",\"alias\":\"a\",\"port\":1}", "power.alias cannot go with hostname or port");
  bad("{\"driver\":\"pdudaemon\",\"daemon\":\"localhost:16421\",\"alias\":\"a\"}",
      "power.daemon 'localhost:16421' must be a URL like http://127.0.0.1:16421");
  bad("{\"driver\":\"pdudaemon\",\"alias\":\"a\",\"outlet\":1}",
      "power.outlet is unknown for the pdudaemon driver (driver, timeout, at_exit, daemon, hostname, port, alias)");
  /* serial-dtr */
  bad("{\"driver\":\"serial-dtr\"}", "power.port is missing (the serial-dtr driver needs it)");
  bad("{\"driver\":\"serial-dtr\",\"port\":\"\"}", "power.port must be a non-empty string");
  bad("{\"driver\":\"serial-dtr\",\"port\":\"/dev/ttyUSB1\",\"line\":\"cts\"}", "power.line 'cts' is unknown (dtr, rts)");
  bad("{\"driver\":\"serial-dtr\",\"port\":\"/dev/ttyUSB1\",\"active\":\"up\"}", "power.active 'up' is unknown (high, low)");
  /* http */
  bad("{\"driver\":\"http\",\"off\":{\"url\":\"http://r/off\"}}", "power.on is missing (the http driver needs on and off");
  bad("{\"driver\":\"http\",\"on\":\"http://r/on\",\"off\":{\"url\":\"http://r/off\"}}",
      "power.on must be a table { url =, method =, body =, status = }");
  bad("{\"driver\":\"http\",\"on\":{},\"off\":{\"url\":\"http://r/off\"}}", "power.on.url is missing");
  bad("{\"driver\":\"http\",\"on\":{\"url\":\"ftp://r\"},\"off\":{\"url\":\"http://r/off\"}}",
      "power.on.url must be an http:// or https:// URL");
  bad("{\"driver\":\"http\",\"on\":{\"url\":\"http://r\",\"method\":\"FETCH\"},\"off\":{\"url\":\"http://r/off\"}}",
      "power.on.method 'FETCH' is unknown (GET, POST, PUT, PATCH, DELETE)");
  bad("{\"driver\":\"http\",\"on\":{\"url\":\"http://r\",\"body\":{}},\"off\":{\"url\":\"http://r/off\"}}",
      "power.on.body must be a string");
  bad("{\"driver\":\"http\",\"on\":{\"url\":\"http://r\",\"status\":99},\"off\":{\"url\":\"http://r/off\"}}",
      "power.on.status must be an HTTP status (100-599)");
  bad("{\"driver\":\"http\",\"on\":{\"url\":\"http://r\",\"json\":\"x\"},\"off\":{\"url\":\"http://r/off\"}}",
      "power.on.json is unknown (url, method, body, status)");
  bad("{\"driver\":\"http\",\"on\":{\"url\":\"http://r\"},\"off\":{\"url\":\"http://r/off\"},\"state\":{\"url\":\"http://r\",\"json\":\"\"}}",
      "power.state.json must be a key name");
  bad("{\"driver\":\"http\",\"on\":{\"url\":\"http://r\"},\"off\":{\"url\":\"http://r/off\"},\"password\":\"x\"}",
      "power.password needs power.user");
  bad("{\"driver\":\"http\",\"on\":{\"url\":\"http://r\"},\"off\":{\"url\":\"http://r/off\"},\"relay\":0}",
      "power.relay is unknown for the http driver");
}
END_TEST

START_TEST(process_is_checked_not_made) {
  cJSON *cfg = cJSON_Parse("{\"driver\":\"process\"}");
  ck_assert_int_eq(power_check(cfg, err, sizeof err), 0);
  power *p = NULL;
  ck_assert_int_eq(power_new(cfg, "b1", &p, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "run by the harness"));
  cJSON_Delete(cfg);
}
END_TEST

/* ---- exec ------------------------------------------------------------------ */

START_TEST(exec_on_off_state_with_placeholders) {
  power *p = make("{\"driver\":\"exec\",\"outlet\":7,\"bank\":\"A\","
                  "\"on\":[\"sh\",\"-c\",\"echo on > DIR/state; echo on {name} {device} {product} {bank}{outlet} >> DIR/log\"],"
                  "\"off\":[\"sh\",\"-c\",\"echo off > DIR/state; echo off {outlet} >> DIR/log\"],"
                  "\"state\":[\"cat\",\"DIR/state\"]}");
  power_opts o = opts(5, 0);
  ck_assert(power_can_tell(p));
  ck_assert_msg(power_on(p, &o, err, sizeof err) == 0, "%s", err);
  power_state_t st;
  ck_assert_msg(power_state(p, &o, &st, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(st, POWER_ON);
  ck_assert_msg(power_off(p, &o, err, sizeof err) == 0, "%s", err);
  ck_assert_msg(power_state(p, &o, &st, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(st, POWER_OFF);
  ck_assert_str_eq(slurp("log"), "on b1 dev-1 P1 A7\noff 7\n");
  ck_assert_str_eq(power_driver(p), "exec");
  power_free(p);
}
END_TEST

START_TEST(exec_failures_name_device_driver_and_why) {
  power *p = make("{\"driver\":\"exec\",\"on\":[\"/nonexistent/relay-ctl\",\"on\"],"
                  "\"off\":[\"sh\",\"-c\",\"echo trying >&2; echo no such outlet >&2; exit 3\"],"
                  "\"cycle\":[\"echo\",\"{nope}\"],\"state\":[\"echo\",\"maybe\"]}");
  power_opts o = opts(5, 0);
  ck_assert_int_eq(power_on(p, &o, err, sizeof err), -1);
  ASSERT_ERR("device 'b1': power on (exec): cannot run '/nonexistent/relay-ctl'");
  ck_assert_int_eq(power_off(p, &o, err, sizeof err), -1);
  ASSERT_ERR("device 'b1': power off (exec): 'sh' exited with status 3: no such outlet");
  ck_assert_int_eq(power_cycle(p, &o, err, sizeof err), -1);
  ASSERT_ERR("device 'b1': power cycle (exec): power.cycle[2] uses the unknown placeholder {nope}");
  power_state_t st;
  ck_assert_int_eq(power_state(p, &o, &st, err, sizeof err), -1);
  ASSERT_ERR("power state (exec): power.state printed 'maybe' (expected on or off)");
  power_free(p);
  p = make("{\"driver\":\"exec\",\"on\":[\"sh\",\"-c\",\"kill -9 $$\"],\"off\":[\"true\"]}");
  ck_assert_int_eq(power_on(p, &o, err, sizeof err), -1);
  ASSERT_ERR("'sh' was killed by signal 9");
  ck_assert(!power_can_tell(p));
  ck_assert_int_eq(power_state(p, &o, &st, err, sizeof err), 0);
  ck_assert_int_eq(st, POWER_UNKNOWN);
  power_free(p);
}
END_TEST

static int pid_gone(pid_t pid) {
  for (int i = 0; i < 100; i++) {
    if (kill(pid, 0) != 0 && errno == ESRCH) return 1;
    /* a zombie nobody reaped yet is dead too */
    char path[64], st[512] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f) {
      size_t n = fread(st, 1, sizeof st - 1, f);
      st[n] = 0;
      fclose(f);
      const char *close = strrchr(st, ')');
      if (close && close[1] == ' ' && close[2] == 'Z') return 1;
    }
    usleep(20000);
  }
  return 0;
}

START_TEST(exec_timeout_kills_the_command_and_what_it_started) {
  power *p = make("{\"driver\":\"exec\",\"on\":[\"sh\",\"-c\",\"sleep 30 & echo $! > DIR/bg; wait\"],\"off\":[\"true\"]}");
  power_opts o = opts(0.5, 0);
  double t0 = now();
  ck_assert_int_eq(power_on(p, &o, err, sizeof err), -1);
  double took = now() - t0;
  ASSERT_ERR("device 'b1': power on (exec): 'sh' did not finish within 0.5 s (killed)");
  ck_assert_msg(took >= 0.45 && took < 3, "took %.2f s", took);
  pid_t bg = (pid_t)strtol(slurp("bg"), NULL, 10);
  ck_assert_int_gt(bg, 1);
  ck_assert_msg(pid_gone(bg), "the command's background child %d survived the timeout", (int)bg);
  power_free(p);
}
END_TEST

START_TEST(exec_ends_when_the_command_exits_even_if_a_child_holds_its_output) {
  /* e.g. an "on" that starts a board emulator in the background */
  power *p = make("{\"driver\":\"exec\",\"on\":[\"sh\",\"-c\",\"sleep 30 & echo $! > DIR/bg; echo started\"],\"off\":[\"true\"]}");
  power_opts o = opts(10, 0);
  double t0 = now();
  ck_assert_msg(power_on(p, &o, err, sizeof err) == 0, "%s", err);
  ck_assert_msg(now() - t0 < 3, "took %.2f s", now() - t0);
  pid_t bg = (pid_t)strtol(slurp("bg"), NULL, 10);
  ck_assert_int_gt(bg, 1);
  ck_assert_int_eq(kill(bg, 0), 0); /* left running: it is the board */
  kill(bg, SIGKILL);
  power_free(p);
}
END_TEST

START_TEST(exec_cycle_own_command_or_off_delay_on) {
  power *p = make("{\"driver\":\"exec\",\"on\":[\"sh\",\"-c\",\"echo on >> DIR/log\"],"
                  "\"off\":[\"sh\",\"-c\",\"echo off >> DIR/log\"]}");
  power_opts o = opts(5, 0.3);
  double t0 = now();
  ck_assert_msg(power_cycle(p, &o, err, sizeof err) == 0, "%s", err);
  ck_assert_msg(now() - t0 >= 0.3, "the delay was not kept");
  ck_assert_str_eq(slurp("log"), "off\non\n");
  power_free(p);
  p = make("{\"driver\":\"exec\",\"on\":[\"true\"],\"off\":[\"true\"],"
           "\"cycle\":[\"sh\",\"-c\",\"echo reboot {delay} {name} >> DIR/log2\"]}");
  ck_assert_msg(power_cycle(p, &o, err, sizeof err) == 0, "%s", err);
  ck_assert_str_eq(slurp("log2"), "reboot 0.3 b1\n");
  power_free(p);
}
END_TEST

/* ---- helpers: servers the tests start ------------------------------------- */

/* Starts argv in its own process group with stdout on a pipe; returns the pipe. */
static int start(char *const argv[]) {
  int fds[2];
  ck_assert_int_eq(pipe(fds), 0);
  server = fork();
  ck_assert_int_ge(server, 0);
  if (server == 0) {
    /* dies with the test, even one that fails before its teardown */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    setpgid(0, 0);
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execvp(argv[0], argv);
    _exit(127);
  }
  setpgid(server, server);
  close(fds[1]);
  return fds[0];
}

static void start_relay(void) {
  char log[300], script[512];
  snprintf(log, sizeof log, "%s/requests", dir);
  snprintf(script, sizeof script, "%s/relay_server.py", getenv("POWER_TEST_DIR"));
  char *argv[] = {"python3", script, log, NULL};
  int fd = start(argv);
  struct pollfd pfd = {fd, POLLIN, 0};
  ck_assert_msg(poll(&pfd, 1, 10000) == 1, "the relay server did not start within 10 s");
  char buf[32] = "";
  ck_assert_int_gt(read(fd, buf, sizeof buf - 1), 0);
  server_out = fd; /* open until the end: the server may still write */
  server_port = (int)strtol(buf, NULL, 10);
  ck_assert_int_gt(server_port, 0);
}

static int free_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &len);
  close(s);
  return ntohs(a.sin_port);
}

static int can_connect(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int ok = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
  close(s);
  return ok;
}

/* Debian's pdudaemon on 127.0.0.1 with two localcmdline PDUs writing to DIR. */
static void start_pdudaemon(void) {
  server_port = free_port();
  char conf[300];
  snprintf(conf, sizeof conf, "%s/pdudaemon.conf", dir);
  FILE *f = fopen(conf, "w");
  ck_assert_ptr_nonnull(f);
  fputs(with_dir("{ \"daemon\": { \"hostname\": \"127.0.0.1\", \"port\": PORT, \"logging_level\": \"DEBUG\", \"listener\": \"http\" },\n"
                 "  \"pdus\": { \"rack-pdu\": { \"driver\": \"localcmdline\",\n"
                 "      \"cmd_on\": \"echo on %s >> DIR/outlets\", \"cmd_off\": \"echo off %s >> DIR/outlets\" } },\n"
                 "  \"aliases\": { \"b1-power\": { \"hostname\": \"rack-pdu\", \"port\": 5 } } }\n"),
        f);
  fclose(f);
  char logf[300];
  snprintf(logf, sizeof logf, "%s/pdudaemon.log", dir);
  const char *bin = access("/usr/sbin/pdudaemon", X_OK) == 0 ? "/usr/sbin/pdudaemon" : "pdudaemon";
  char *argv[] = {(char *)bin, "--conf", conf, "--logfile", logf, NULL};
  server_out = start(argv);
  for (int i = 0; i < 200 && !can_connect(server_port); i++) usleep(50000);
  ck_assert_msg(can_connect(server_port), "pdudaemon did not listen on 127.0.0.1:%d within 10 s (is it installed? scripts/install-deps)",
                server_port);
}

/* ---- http ----------------------------------------------------------------- */

START_TEST(http_shelly_on_off_state_cycle) {
  start_relay();
  power *p = make("{\"driver\":\"http\",\"on\":{\"url\":\"http://127.0.0.1:PORT/relay/0?turn=on\"},"
                  "\"off\":{\"url\":\"http://127.0.0.1:PORT/relay/0?turn=off\"},"
                  "\"state\":{\"url\":\"http://127.0.0.1:PORT/relay/0\",\"json\":\"ison\"}}");
  power_opts o = opts(5, 0.2);
  power_state_t st;
  ck_assert_msg(power_on(p, &o, err, sizeof err) == 0, "%s", err);
  ck_assert_msg(power_state(p, &o, &st, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(st, POWER_ON);
  ck_assert_msg(power_off(p, &o, err, sizeof err) == 0, "%s", err);
  ck_assert_msg(power_state(p, &o, &st, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(st, POWER_OFF);
  ck_assert_msg(power_cycle(p, &o, err, sizeof err) == 0, "%s", err);
  ck_assert_msg(power_state(p, &o, &st, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(st, POWER_ON);
  ck_assert_str_eq(slurp("requests"),
                   "GET /relay/0?turn=on \nGET /relay/0 \nGET /relay/0?turn=off \nGET /relay/0 \n"
                   "GET /relay/0?turn=off \nGET /relay/0?turn=on \nGET /relay/0 \n");
  power_free(p);
}
END_TEST

START_TEST(http_tasmota_post_body_status_and_cycle_request) {
  start_relay();
  power *p = make("{\"driver\":\"http\","
                  "\"on\":{\"url\":\"http://127.0.0.1:PORT/cm\",\"method\":\"POST\",\"body\":\"Power ON\",\"status\":200},"
                  "\"off\":{\"url\":\"http://127.0.0.1:PORT/cm\",\"method\":\"POST\",\"body\":\"Power OFF\"},"
                  "\"cycle\":{\"url\":\"http://127.0.0.1:PORT/relay/0?turn=on&after={delay}&dev={name}\"},"
                  "\"state\":{\"url\":\"http://127.0.0.1:PORT/cm?cmnd=Power\",\"json\":\"POWER\"}}");
  power_opts o = opts(5, 2);
  power_state_t st;
  ck_assert_msg(power_on(p, &o, err, sizeof err) == 0, "%s", err);
  ck_assert_msg(power_state(p, &o, &st, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(st, POWER_ON);
  ck_assert_msg(power_off(p, &o, err, sizeof err) == 0, "%s", err);
  ck_assert_msg(power_state(p, &o, &st, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(st, POWER_OFF);
  ck_assert_msg(power_cycle(p, &o, err, sizeof err) == 0, "%s", err);
  ck_assert_ptr_nonnull(strstr(slurp("requests"), "POST /cm Power ON\n"));
  ck_assert_ptr_nonnull(strstr(slurp("requests"), "POST /cm Power OFF\n"));
  ck_assert_ptr_nonnull(strstr(slurp("requests"), "GET /relay/0?turn=on&after=2&dev=b1 \n"));
  power_free(p);
}
END_TEST

START_TEST(http_plain_state_and_basic_auth) {
  start_relay();
  power *p = make("{\"driver\":\"http\",\"user\":\"lab\",\"password\":\"secret\","
                  "\"on\":{\"url\":\"http://127.0.0.1:PORT/auth/relay/0?turn=on\"},"
                  "\"off\":{\"url\":\"http://127.0.0.1:PORT/auth/relay/0?turn=off\"},"
                  "\"state\":{\"url\":\"http://127.0.0.1:PORT/plain\"}}");
  power_opts o = opts(5, 0);
  power_state_t st;
  ck_assert_msg(power_on(p, &o, err, sizeof err) == 0, "%s", err);
  ck_assert_msg(power_state(p, &o, &st, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(st, POWER_ON);
  power_free(p);
  p = make("{\"driver\":\"http\",\"on\":{\"url\":\"http://127.0.0.1:PORT/auth/relay/0?turn=on\"},"
           "\"off\":{\"url\":\"http://127.0.0.1:PORT/broken\"},\"state\":{\"url\":\"http://127.0.0.1:PORT/cm\",\"json\":\"ison\"}}");
  ck_assert_int_eq(power_on(p, &o, err, sizeof err), -1);
  ASSERT_ERR("device 'b1': power on (http): GET http://127.0.0.1:", "/auth/relay/0?turn=on answered 401 (expected 2xx): who are you");
  ck_assert_int_eq(power_off(p, &o, err, sizeof err), -1);
  ASSERT_ERR("device 'b1': power off (http): GET", "/broken answered 500 (expected 2xx): relay on fire");
  ck_assert_int_eq(power_state(p, &o, &st, err, sizeof err), -1);
  ASSERT_ERR("power state (http): power.state: the answer has no on/off value at 'ison'");
  power_free(p);
}
END_TEST

START_TEST(http_timeout_refused_and_wrong_status) {
  start_relay();
  power *p = make("{\"driver\":\"http\",\"on\":{\"url\":\"http://127.0.0.1:PORT/slow\"},"
                  "\"off\":{\"url\":\"http://127.0.0.1:PORT/relay/0?turn=off\",\"status\":204}}");
  power_opts o = opts(0.5, 0);
  double t0 = now();
  ck_assert_int_eq(power_on(p, &o, err, sizeof err), -1);
  ck_assert_msg(now() - t0 < 3, "the timeout did not end the call (%.2f s)", now() - t0);
  ASSERT_ERR("device 'b1': power on (http): GET http://127.0.0.1:", "/slow:", "timed out");
  o.timeout_s = 5;
  ck_assert_int_eq(power_off(p, &o, err, sizeof err), -1);
  ASSERT_ERR("answered 200 (expected 204)");
  power_free(p);
  int closed = free_port();
  char json[512];
  snprintf(json, sizeof json, "{\"driver\":\"http\",\"on\":{\"url\":\"http://127.0.0.1:%d/on\"},\"off\":{\"url\":\"http://127.0.0.1:%d/off\"}}",
           closed, closed);
  p = make(json);
  ck_assert_int_eq(power_on(p, &o, err, sizeof err), -1);
  ASSERT_ERR("device 'b1': power on (http): GET http://127.0.0.1:", "/on:", "onnect");
  power_free(p);
}
END_TEST

/* ---- pdudaemon ------------------------------------------------------------ */

START_TEST(pdudaemon_on_off_reboot_alias) {
  start_pdudaemon();
  power *p = make("{\"driver\":\"pdudaemon\",\"daemon\":\"http://127.0.0.1:PORT/\",\"hostname\":\"rack-pdu\",\"port\":3}");
  power_opts o = opts(20, 1);
  ck_assert(!power_can_tell(p));
  ck_assert_msg(power_on(p, &o, err, sizeof err) == 0, "%s", err);
  ck_assert_str_eq(slurp("outlets"), "on 3\n"); /* the daemon answers after the job ran */
  ck_assert_msg(power_off(p, &o, err, sizeof err) == 0, "%s", err);
  double t0 = now();
  ck_assert_msg(power_cycle(p, &o, err, sizeof err) == 0, "%s", err);
  ck_assert_msg(now() - t0 >= 0.9, "reboot did not keep the delay");
  ck_assert_str_eq(slurp("outlets"), "on 3\noff 3\noff 3\non 3\n");
  power_state_t st;
  ck_assert_int_eq(power_state(p, &o, &st, err, sizeof err), 0);
  ck_assert_int_eq(st, POWER_UNKNOWN);
  power_free(p);
  p = make("{\"driver\":\"pdudaemon\",\"daemon\":\"http://127.0.0.1:PORT\",\"alias\":\"b1-power\"}");
  ck_assert_msg(power_off(p, &o, err, sizeof err) == 0, "%s", err);
  ck_assert_str_eq(slurp("outlets"), "on 3\noff 3\noff 3\non 3\noff 5\n");
  power_free(p);
}
END_TEST

START_TEST(pdudaemon_unknown_pdu_and_daemon_down) {
  start_pdudaemon();
  power *p = make("{\"driver\":\"pdudaemon\",\"daemon\":\"http://127.0.0.1:PORT\",\"hostname\":\"no-such-pdu\",\"port\":3}");
  power_opts o = opts(10, 0);
  ck_assert_int_eq(power_on(p, &o, err, sizeof err), -1);
  ASSERT_ERR("device 'b1': power on (pdudaemon): http://127.0.0.1:",
             "/power/control/on?hostname=no-such-pdu&port=3 answered 500: Invalid request (is the PDU or alias in its configuration?)");
  power_free(p);
  kill(-server, SIGKILL);
  waitpid(server, NULL, 0);
  server = -1;
  p = make("{\"driver\":\"pdudaemon\",\"daemon\":\"http://127.0.0.1:PORT\",\"hostname\":\"rack-pdu\",\"port\":3}");
  ck_assert_int_eq(power_off(p, &o, err, sizeof err), -1);
  ASSERT_ERR("device 'b1': power off (pdudaemon): GET http://127.0.0.1:", "onnect");
  power_free(p);
}
END_TEST

/* ---- serial-dtr ----------------------------------------------------------- */

/* Linux pseudo-terminals have no modem lines (TIOCMGET/TIOCMSET answer ENOTTY)
 * and libserialport 0.1.1 only takes ports listed in /sys/class/tty, so on a
 * machine without a real UART the driver can only be shown to fail clearly. */
START_TEST(serial_dtr_on_a_pty_and_a_missing_port_fail_clearly) {
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  ck_assert_int_ge(m, 0);
  ck_assert_int_eq(grantpt(m), 0);
  ck_assert_int_eq(unlockpt(m), 0);
  char json[512];
  snprintf(json, sizeof json, "{\"driver\":\"serial-dtr\",\"port\":\"%s\",\"line\":\"rts\",\"active\":\"low\"}", ptsname(m));
  power *p = make(json);
  power_opts o = opts(5, 0);
  ck_assert(power_can_tell(p));
  ck_assert_int_eq(power_on(p, &o, err, sizeof err), -1);
  char want[128];
  snprintf(want, sizeof want, "device 'b1': power on (serial-dtr): port '%s': not a serial port libserialport can drive", ptsname(m));
  ASSERT_ERR(want);
  power_state_t st;
  ck_assert_int_eq(power_state(p, &o, &st, err, sizeof err), -1);
  ASSERT_ERR("device 'b1': power state (serial-dtr): port '");
  power_free(p);
  close(m);
  p = make("{\"driver\":\"serial-dtr\",\"port\":\"/dev/ttyNOSUCH9\"}");
  ck_assert_int_eq(power_off(p, &o, err, sizeof err), -1);
  ASSERT_ERR("device 'b1': power off (serial-dtr): port '/dev/ttyNOSUCH9': No such file or directory");
  power_free(p);
}
END_TEST

int main(void) {
  Suite *s = suite_create("power");
  TCase *tc = tcase_create("drivers");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, config_errors);
  tcase_add_test(tc, process_is_checked_not_made);
  tcase_add_test(tc, exec_on_off_state_with_placeholders);
  tcase_add_test(tc, exec_failures_name_device_driver_and_why);
  tcase_add_test(tc, exec_timeout_kills_the_command_and_what_it_started);
  tcase_add_test(tc, exec_ends_when_the_command_exits_even_if_a_child_holds_its_output);
  tcase_add_test(tc, exec_cycle_own_command_or_off_delay_on);
  tcase_add_test(tc, http_shelly_on_off_state_cycle);
  tcase_add_test(tc, http_tasmota_post_body_status_and_cycle_request);
  tcase_add_test(tc, http_plain_state_and_basic_auth);
  tcase_add_test(tc, http_timeout_refused_and_wrong_status);
  tcase_add_test(tc, pdudaemon_on_off_reboot_alias);
  tcase_add_test(tc, pdudaemon_unknown_pdu_and_daemon_down);
  tcase_add_test(tc, serial_dtr_on_a_pty_and_a_missing_port_fail_clearly);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
