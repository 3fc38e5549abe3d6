/* api_net: the network between a device and the cloud, with faults (t.net).
 *
 * For each case, two netem proxies stand between the device under test and the
 * cloud: one in front of the broker (MQTT view) and one in front of the firmware
 * server (HTTP view). The device is given their ports ({mqtt_port}, {http_port})
 * and the firmware URLs point at the HTTP one. They are opened when the case
 * starts, with a seed derived from the run's seed and the case id (so a case
 * replays alone exactly), and closed when it ends: faults never outlive a case.
 *
 * Lua: t.net.http / t.net.mqtt (streams) and t.net:clear(). A stream has
 *   s:fault(spec)                    any fault in `otahil netem` SPEC syntax -> handle h
 *                                    (h.id, h:fired() -> bool, n, h:wait([timeout]) -> event)
 *   s:cut{at_body_byte=, at_byte=, after_ms=, rst=, tls_alert=, times=}  tls_alert (lab `tls`): a fatal
 *                                    TLS alert first (true: "internal_error", or its RFC 8446 name)
 *   s:corrupt{body_bytes={...} | bytes={...} | random=N, times=}
 *   s:throttle{rate = 20000 | "20KB/s"}   s:latency{ms=, jitter=}
 *   s:stall{after_body_byte= | after_byte= , ms=}   s:flap{every=, rst=}
 *   s:drop{topic=, count=}  s:delay{topic=, ms=, count=}  s:dup{topic=, count=}
 *   s:corrupt_publish{topic=, count=, random=N | at={payload offsets}}  s:cut_after_publish{topic=, nth=}
 *   s:reset()                        reset every open connection now (not a fault) -> n
 *   s:clear()                        remove this stream's faults
 *   s:body_bytes()                   body bytes delivered to the device so far
 *   s:wait_body_bytes(n [, {timeout=}]) -> true | nil, "timeout"
 *   s:next_request{timeout=}         -> "http.request" event (method, path, range)
 *   s:port()
 *   s:tls_cert(which)                with TLS (lab `tls`): present "expired", "wrong-name",
 *                                    "untrusted" or "server" (the good one) to the
 *                                    connections the device opens from now on
 *   s:tls_handshake(mode)            with TLS: "stall" (read, never answer, until "ok"),
 *                                    "cut" / "reset" (FIN / RST at the ClientHello), "ok"
 * The MQTT stream with the lab's auth = "platform" holds each CONNECT ("mqtt.login" event:
 * conn, client_id, username, password, protocol) until one of these decides ("mqtt.login.result":
 * action accept | refuse, code, reason), or the hold's timeout refuses it:
 *   s:on_login(fn | nil)             fn(login) -> true [, why] (accept) | false, why [, "bad_credentials" |
 *                                    "not_authorized"] (refuse) | nil (no decision), called from a task
 *                                    for every held CONNECT; nil: nobody decides
 *   s:next_login{timeout=}           -> the next "mqtt.login" event | nil, "timeout"
 *   s:login_accept(conn [, why])     -> true | nil, why (no CONNECT held on that connection)
 *   s:login_refuse(conn [, "bad_credentials" | "not_authorized" [, why]]) -> true | nil, why
 * Adding a fault is a "fault.add" event; every fault acting is a "fault" event with connection, direction, offsets and,
 * for corruption, the old and new byte. */
#ifndef OTAHIL_API_NET_H
#define OTAHIL_API_NET_H

#include "api.h"

typedef struct netdev netdev;

/* Where the proxies listen: a numeric address and a port each (0: a free one). */
typedef struct netdev_listen {
  const char *host;
  int mqtt_port, http_port;
  const char *tls_cert, *tls_key; /* PEM files: both proxies terminate TLS (NULL: plain TCP) */
  const char *tls_pki;            /* the test PKI's folder (tls_pki.h), for s:tls_cert(); may be NULL */
  int login_hold;                 /* the MQTT proxy holds each CONNECT for a decision (lab auth) */
  double login_timeout_s;         /* a held CONNECT nobody decides is refused after this; 0 = 5 */
  int broker_tls;                 /* the broker speaks TLS (--broker mqtts://): the MQTT proxy is its
                                     TLS client, verifying it against broker_ca (NULL: system CAs) */
  const char *broker_ca;
} netdev_listen;

/* Opens both proxies where `at` says (NULL: 127.0.0.1, free ports), forwarding
 * to the broker at mqtt_host:mqtt_port and the firmware server on 127.0.0.1:
 * http_port. Returns 0 or -1 with err. */
int netdev_open(uv_loop_t *loop, const char *name, evlog *log, const netdev_listen *at,
                const char *mqtt_host, int mqtt_port, int http_port, uint64_t seed, netdev **out,
                char *err, size_t errlen);
int netdev_mqtt_port(const netdev *n);
int netdev_http_port(const netdev *n);

/* Removes every fault and closes both proxies (all connections are reset);
 * no event is logged after this. Frees asynchronously. */
void netdev_close(netdev *n);

/* Pushes t.net. */
void netdev_push(lua_State *L, netdev *n);

#endif
