/* mqttc: a libmosquitto client driven by a libuv loop (no extra thread).
 * The socket is watched with a uv_poll_t; a 250 ms timer runs keepalive.
 *
 * Nothing here blocks the loop: the TCP connect is non-blocking, so a broker
 * that never answers (a full accept queue, a firewalled port) holds up only
 * the caller that waits for on_connect, for as long as that caller's own
 * timeout says, never the loop, the other scenarios, signals or deadlines. */
#ifndef OTAHIL_MQTTC_H
#define OTAHIL_MQTTC_H

#include <stddef.h>
#include <uv.h>

typedef struct mqttc mqttc;

typedef struct mqttc_cbs {
  void (*on_connect)(void *arg, int rc); /* CONNACK: rc 0 or the broker's refusal */
  /* The connection ended, or the TCP connect failed after mqttc_open returned
   * (rc MOSQ_ERR_ERRNO then; mqttc_error tells why). */
  void (*on_disconnect)(void *arg, int rc);
  void (*on_subscribe)(void *arg, int mid);
  void (*on_publish)(void *arg, int mid);
  void (*on_message)(void *arg, const char *topic, const void *payload, int len, int qos,
                     int retain);
} mqttc_cbs;

/* Starts connecting and returns at once: the TCP connect goes on in the loop,
 * then the CONNECT is sent and the CONNACK arrives via on_connect. There is no
 * timeout here: the caller bounds its wait for on_connect and calls mqttc_close
 * when it gives up. Returns 0, or -1 with err set when the connect fails at once
 * ("mqtt connect to H:P: Connection refused"). `cbs` is copied.
 * `host` must be numeric or "localhost": libmosquitto resolves it with a
 * blocking getaddrinfo(), which is instant for those (otahil uses no other). */
int mqttc_open(uv_loop_t *loop, const char *client_id, const char *host, int port,
               const mqttc_cbs *cbs, void *arg, mqttc **out, char *err, size_t errlen);

/* TLS to the broker (mqtts): the broker's certificate must chain to ca_file (NULL: the
 * system's CAs) and name `host` (a name or an IP address); verification is always on. */
typedef struct mqttc_tls {
  const char *ca_file;
} mqttc_tls;

/* As mqttc_open, over TLS when tls is not NULL. A failed handshake ends as a failed TCP
 * connect does (on_disconnect, then mqttc_error says "mqtt connect to H:P: TLS: why"). */
int mqttc_open_tls(uv_loop_t *loop, const char *client_id, const char *host, int port, const mqttc_tls *tls,
                   const mqttc_cbs *cbs, void *arg, mqttc **out, char *err, size_t errlen);

/* Connects a client (id "otahil-probe-PID") and waits for the broker's CONNACK, running the
 * loop, at most timeout_s; then disconnects. Returns 0, or -1 with one line in err: the TCP
 * connect's failure, the TLS handshake's ("certificate verify failed"), a refusal, or no
 * answer in time. For a broker the run depends on, before any case starts. */
int mqttc_probe(uv_loop_t *loop, const char *host, int port, const mqttc_tls *tls, double timeout_s, char *err,
                size_t errlen);

/* Why there is no connection yet, for an error message: the TCP connect's
 * failure ("mqtt connect to H:P: Connection refused", "...: Connection timed
 * out"), "mqtt connect to H:P: no answer (TCP connect in progress)" while it is
 * pending, or NULL once the TCP connection is up. Owned by c. */
const char *mqttc_error(const mqttc *c);

/* Return 0 or a MOSQ_ERR_* code; *mid gets the message id. */
int mqttc_subscribe(mqttc *c, const char *filter, int qos, int *mid);
int mqttc_unsubscribe(mqttc *c, const char *filter);
int mqttc_publish(mqttc *c, const char *topic, const void *payload, int len, int qos, int retain,
                  int *mid);

/* Disconnects and frees asynchronously; no callback is called after this.
 * Also gives up a connect still in progress. */
void mqttc_close(mqttc *c);

#endif
