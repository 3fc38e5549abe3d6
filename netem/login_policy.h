/* login_policy: a fixed decision on held MQTT logins, for the standalone proxy
 * (`otahil netem --login-hold MS`, `--login-refuse CODE`).
 *
 * In the harness a scenario decides each CONNECT the proxy holds (opts.login_hold); alone,
 * the command line says once for all: hold each CONNECT `hold_ms`, then forward it
 * unchanged, or answer the refusal and close. The proxy's MQTT_LOGIN and MQTT_LOGIN_DONE
 * events log each login and its decision, as in the harness ("mqtt.login",
 * "mqtt.login.result"). Everything runs on the proxy's loop.
 */
#ifndef OTAHIL_NETEM_LOGIN_POLICY_H
#define OTAHIL_NETEM_LOGIN_POLICY_H

#include <stdint.h>
#include <uv.h>

#include "netem.h"

typedef struct login_policy login_policy;

/* What to answer: accept, or refuse with the protocol level's code for bad credentials
 * (3.1.1: 4, MQTT 5: 0x86) or not authorized (5, 0x87), or with this exact CONNACK code. */
enum login_policy_answer { LOGIN_POLICY_ACCEPT = 0, LOGIN_POLICY_BAD_CREDENTIALS, LOGIN_POLICY_NOT_AUTHORIZED,
                           LOGIN_POLICY_CODE };

/* A policy for the proxy *proxy (read when a decision is due, so it may be set after this).
 * `code` is used with LOGIN_POLICY_CODE (1..255). Returns NULL when out of memory. */
login_policy *login_policy_new(uv_loop_t *loop, netem_proxy *const *proxy, uint64_t hold_ms,
                               enum login_policy_answer answer, int code);

/* Call with every event of the proxy: an MQTT_LOGIN starts that connection's hold (the
 * decision is made from the loop, never inside the event callback). */
void login_policy_event(login_policy *lp, const struct netem_event *ev);

/* Parses the argument of --login-refuse: "bad-credentials", "not-authorized" or a code
 * (1..255, decimal or 0x..). Returns 0, or -1. */
int login_policy_parse_refuse(const char *s, enum login_policy_answer *answer, int *code);

/* Drops the pending decisions (their CONNECTs stay held until the proxy's own timeout or its
 * close) and frees the policy; its timers close on the loop. */
void login_policy_close(login_policy *lp);

#endif
