/* mqttc: the harness's MQTT client on the loop. The connect never blocks the
 * loop: a broker that never answers (its accept queue full, SYNs dropped) costs
 * only the caller's own timeout; a refusal is told with its cause, at once or
 * when it comes; and against the real mosquitto everything still works. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "../common/tmpdir.h"
#include "broker.h"
#include "mqttc.h"

#define FILL 4

/* A listener on 127.0.0.1 that never accepts, its accept queue full
 * (listen(fd, 0) and FILL connections never accepted): a further SYN is
 * dropped, as by a firewall or a dead host, so a connect hangs (~2 min). */
typedef struct stuck {
  int lfd;
  int fill[FILL];
  int port;
} stuck;

static void stuck_open(stuck *s) {
  s->lfd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(s->lfd, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
  ck_assert_int_eq(listen(s->lfd, 0), 0);
  ck_assert_int_eq(getsockname(s->lfd, (struct sockaddr *)&a, &len), 0);
  s->port = ntohs(a.sin_port);
  for (int i = 0; i < FILL; i++) {
    s->fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ck_assert_int_ge(s->fill[i], 0);
    int rc = connect(s->fill[i], (struct sockaddr *)&a, sizeof a);
    ck_assert(rc == 0 || errno == EINPROGRESS);
  }
  usleep(100 * 1000); /* the handshakes that fit in the queue are done */
}

static void stuck_close(stuck *s) {
  for (int i = 0; i < FILL; i++) close(s->fill[i]);
  close(s->lfd);
}

/* A port on 127.0.0.1 where nothing listens. */
static int closed_port(void) {
  int port = net_free_port();
  ck_assert_int_gt(port, 0);
  return port;
}

typedef struct seen {
  int connacks, connack_rc, disconnects, disconnect_rc, subacks, messages;
  char payload[64];
} seen;

static void on_connect(void *arg, int rc) {
  seen *s = arg;
  s->connacks++;
  s->connack_rc = rc;
}
static void on_disconnect(void *arg, int rc) {
  seen *s = arg;
  s->disconnects++;
  s->disconnect_rc = rc;
}
static void on_subscribe(void *arg, int mid) {
  (void)mid;
  ((seen *)arg)->subacks++;
}
static void on_message(void *arg, const char *topic, const void *payload, int len, int qos,
                       int retain) {
  (void)topic, (void)qos, (void)retain;
  seen *s = arg;
  s->messages++;
  snprintf(s->payload, sizeof s->payload, "%.*s", len, (const char *)payload);
}
static const mqttc_cbs cbs = {on_connect, on_disconnect, on_subscribe, NULL, on_message};

static double since(uint64_t t0) { return (double)(uv_hrtime() - t0) / 1e9; }

/* Runs the loop until *flag is nonzero or `seconds` pass. Returns *flag. */
static void on_tick(uv_timer_t *t) { (void)t; }
static int run_until(uv_loop_t *loop, const int *flag, double seconds) {
  uv_timer_t tick;
  uv_timer_init(loop, &tick);
  uv_timer_start(&tick, on_tick, 10, 10); /* the loop never sleeps for ever */
  uint64_t t0 = uv_hrtime();
  while (!*flag && since(t0) < seconds) uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return *flag;
}

static void loop_end(uv_loop_t *loop) {
  uv_run(loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(loop), 0); /* nothing left open */
}

/* The reviewer's case: the old blocking connect held the loop ~130 s. */
START_TEST(a_silent_broker_costs_only_the_callers_timeout) {
  stuck st;
  stuck_open(&st);
  uv_loop_t loop;
  uv_loop_init(&loop);
  seen s = {0};
  mqttc *c = NULL;
  char err[256] = "";
  uint64_t t0 = uv_hrtime();
  ck_assert_msg(mqttc_open(&loop, "stuck", "127.0.0.1", st.port, &cbs, &s, &c, err, sizeof err) == 0,
                "%s", err);
  ck_assert_msg(since(t0) < 0.5, "mqttc_open took %.2f s", since(t0));
  /* the caller's wait: 1 s, with the loop running (another client, timers...) */
  int never = 0;
  run_until(&loop, &never, 1.0);
  ck_assert_int_eq(s.connacks, 0);
  ck_assert_int_eq(s.disconnects, 0);
  const char *why = mqttc_error(c);
  ck_assert_ptr_nonnull(why); /* the SYN was really dropped: still connecting */
  ck_assert_msg(strstr(why, "in progress") && strstr(why, "127.0.0.1:"), "%s", why);
  mqttc_close(c);
  loop_end(&loop);
  ck_assert_msg(since(t0) < 2.0, "gave up after %.2f s", since(t0));
  stuck_close(&st);
}
END_TEST

START_TEST(a_refused_connect_fails_at_once_with_its_cause) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  seen s = {0};
  mqttc *c = NULL;
  char err[256] = "";
  int port = closed_port();
  ck_assert_int_eq(mqttc_open(&loop, "refused", "127.0.0.1", port, &cbs, &s, &c, err, sizeof err), -1);
  char want[64];
  snprintf(want, sizeof want, "127.0.0.1:%d: Connection refused", port);
  ck_assert_msg(strstr(err, want), "'%s' lacks '%s'", err, want);
  loop_end(&loop);
}
END_TEST

/* A connect that fails after mqttc_open returned: the listener goes away while
 * our SYN waits to be resent; the resent SYN (after ~1 s) meets a RST. */
START_TEST(a_connect_that_fails_later_is_told_with_its_cause) {
  stuck st;
  stuck_open(&st);
  uv_loop_t loop;
  uv_loop_init(&loop);
  seen s = {0};
  mqttc *c = NULL;
  char err[256] = "";
  ck_assert_msg(mqttc_open(&loop, "later", "127.0.0.1", st.port, &cbs, &s, &c, err, sizeof err) == 0,
                "%s", err);
  stuck_close(&st);
  ck_assert_msg(run_until(&loop, &s.disconnects, 8.0), "no failure within 8 s");
  ck_assert_int_eq(s.disconnect_rc, MOSQ_ERR_ERRNO);
  ck_assert_int_eq(s.connacks, 0);
  const char *why = mqttc_error(c);
  ck_assert_ptr_nonnull(why);
  ck_assert_msg(strstr(why, "Connection refused"), "%s", why);
  mqttc_close(c);
  loop_end(&loop);
}
END_TEST

/* The non-blocking connect against the real broker: CONNACK, SUBACK, a message
 * back, and a clean close. */
START_TEST(the_real_broker_still_works) {
  char dir[256];
  tmpdir_make(dir, sizeof dir, "otahil-mqttc");
  uv_loop_t loop;
  uv_loop_init(&loop);
  broker *b = NULL;
  char err[512] = "";
  ck_assert_msg(broker_start(&loop, dir, 10.0, &b, err, sizeof err) == 0, "%s", err);
  seen s = {0};
  mqttc *c = NULL;
  ck_assert_msg(mqttc_open(&loop, "real", "127.0.0.1", broker_port(b), &cbs, &s, &c, err,
                           sizeof err) == 0, "%s", err);
  ck_assert_msg(run_until(&loop, &s.connacks, 5.0), "no CONNACK within 5 s");
  ck_assert_int_eq(s.connack_rc, 0);
  ck_assert_ptr_null(mqttc_error(c));
  int mid = 0;
  ck_assert_int_eq(mqttc_subscribe(c, "mqttc/#", 1, &mid), MOSQ_ERR_SUCCESS);
  ck_assert_msg(run_until(&loop, &s.subacks, 5.0), "no SUBACK within 5 s");
  ck_assert_int_eq(mqttc_publish(c, "mqttc/x", "hello", 5, 1, 0, &mid), MOSQ_ERR_SUCCESS);
  ck_assert_msg(run_until(&loop, &s.messages, 5.0), "own message not back within 5 s");
  ck_assert_str_eq(s.payload, "hello");
  mqttc_close(c);
  uv_run(&loop, UV_RUN_NOWAIT);
  broker_stop(b, 3.0);
  loop_end(&loop);
  ck_assert_int_eq(s.disconnects, 0); /* none after close */
  tmpdir_remove(dir);
}
END_TEST

static Suite *mqttc_suite(void) {
  Suite *s = suite_create("mqttc");
  TCase *tc = tcase_create("connect");
  /* the old blocking connect would sit ~130 s in the first test: fail it at 20 */
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, a_silent_broker_costs_only_the_callers_timeout);
  tcase_add_test(tc, a_refused_connect_fails_at_once_with_its_cause);
  tcase_add_test(tc, a_connect_that_fails_later_is_told_with_its_cause);
  tcase_add_test(tc, the_real_broker_still_works);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  mosquitto_lib_init();
  SRunner *sr = srunner_create(mqttc_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  mosquitto_lib_cleanup();
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
