#include "mqttc.h"

#include <errno.h>
#include <mosquitto.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct mqttc {
  struct mosquitto *m;
  uv_poll_t poll;
  uv_timer_t timer;
  int fd;
  int polling;
  int closing;
  int connecting;    /* the TCP connect is in progress: poll for writable only */
  int failed;        /* the TCP connect failed after mqttc_open returned */
  int pending_close; /* handles still to close before freeing */
  mqttc_cbs cbs;
  void *arg;
  char where[300];   /* "host:port", for messages */
  char error[512];   /* mqttc_error's text while connecting or failed */
  int tls;           /* over TLS: libmosquitto's TLS errors come through its log */
  int tls_failed;    /* the TLS handshake failed: error says why */
};

static void mqttc__update(mqttc *c);

static void mqttc__on_connect(struct mosquitto *m, void *ud, int rc) {
  (void)m;
  mqttc *c = ud;
  if (!c->closing && c->cbs.on_connect) c->cbs.on_connect(c->arg, rc);
}

static void mqttc__on_disconnect(struct mosquitto *m, void *ud, int rc) {
  (void)m;
  mqttc *c = ud;
  if (!c->closing && c->cbs.on_disconnect) c->cbs.on_disconnect(c->arg, rc);
}

/* libmosquitto says why a TLS handshake failed only in its log ("OpenSSL Error[0]: ..."):
   the first such line of a connection is kept for mqttc_error. */
static void mqttc__on_log(struct mosquitto *m, void *ud, int level, const char *line) {
  (void)m;
  mqttc *c = ud;
  if (!c->tls || !(level & MOSQ_LOG_ERR) || c->tls_failed || !strstr(line, "OpenSSL Error")) return;
  const char *why = strstr(line, "]: ");
  snprintf(c->error, sizeof c->error, "mqtt connect to %s: TLS: %s", c->where, why ? why + 3 : line);
  c->tls_failed = 1;
}

static void mqttc__on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *q) {
  (void)m, (void)n, (void)q;
  mqttc *c = ud;
  if (!c->closing && c->cbs.on_subscribe) c->cbs.on_subscribe(c->arg, mid);
}

static void mqttc__on_publish(struct mosquitto *m, void *ud, int mid) {
  (void)m;
  mqttc *c = ud;
  if (!c->closing && c->cbs.on_publish) c->cbs.on_publish(c->arg, mid);
}

static void mqttc__on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg) {
  (void)m;
  mqttc *c = ud;
  if (!c->closing && c->cbs.on_message)
    c->cbs.on_message(c->arg, msg->topic, msg->payload, msg->payloadlen, msg->qos, msg->retain);
}

/* Why a connect failed with errno e, into buf: over TLS a reset is the listener refusing
   our ClientHello (a plain one, most likely), which strerror would not say. */
static void mqttc__errno_text(const mqttc *c, int e, char *buf, size_t size) {
  if (c->tls && (e == ECONNRESET || e == EPIPE))
    snprintf(buf, size, "mqtt connect to %s: TLS: connection refused or reset before the handshake ended (is it "
             "a TLS listener?)", c->where);
  else
    snprintf(buf, size, "mqtt connect to %s: %s", c->where, strerror(e));
}

/* The TCP connect failed: say why, stop watching, tell the owner. */
static void mqttc__connect_failed(mqttc *c, int e) {
  if (!c->tls_failed) mqttc__errno_text(c, e, c->error, sizeof c->error);
  c->connecting = 0;
  c->failed = 1;
  uv_poll_stop(&c->poll);
  c->polling = 0;
  if (c->cbs.on_disconnect) c->cbs.on_disconnect(c->arg, MOSQ_ERR_ERRNO);
}

/* The socket of a pending connect became writable or reported an error: the
 * connect is over. SO_ERROR tells how (refused, timed out, unreachable); libuv
 * only says UV_EBADF for a socket in error. Returns 0 when connected. */
static int mqttc__connect_done(mqttc *c, int status) {
  int e = 0;
  socklen_t len = sizeof e;
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0) e = errno;
  if (e == 0 && status < 0) e = -status; /* libuv's codes are negated errnos on Unix */
  struct sockaddr_storage peer;
  socklen_t plen = sizeof peer;
  /* TLS: libmosquitto's ClientHello write took the socket's error already (SO_ERROR is 0
     then); a socket that never connected has no peer */
  if (c->tls && e == 0 && getpeername(c->fd, (struct sockaddr *)&peer, &plen) != 0 && errno == ENOTCONN)
    e = ECONNRESET;
  if (e != 0) {
    mqttc__connect_failed(c, e);
    return -1;
  }
  c->connecting = 0;
  return 0;
}

static void mqttc__poll_cb(uv_poll_t *p, int status, int events) {
  mqttc *c = p->data;
  if (c->closing || c->failed) return;
  if (c->connecting) {
    if (mqttc__connect_done(c, status) != 0) return;
    /* connected: the CONNECT that libmosquitto queued goes out now */
    status = 0;
    events = UV_WRITABLE;
  }
  /* Bounded, so a flood of PUBLISHes costs a few packets per turn of the loop,
   * never the loop: libmosquitto 2.0 (lib/loop.c) reads at most max(1, QoS>0
   * messages queued out + QoS 2 messages in awaiting PUBREL) packets here (its
   * own count, not our 1), stops at EAGAIN, and keeps a packet that is not
   * whole yet for the next call. Only a broker that never sends PUBREL could
   * grow that count; the spawned mosquitto does not. */
  if (status < 0 || (events & UV_READABLE)) mosquitto_loop_read(c->m, 1);
  if (c->tls_failed && !c->failed && !c->closing) { /* libmosquitto only logs it: end it as a failed connect */
    c->failed = 1;
    uv_poll_stop(&c->poll);
    c->polling = 0;
    if (c->cbs.on_disconnect) c->cbs.on_disconnect(c->arg, MOSQ_ERR_TLS);
    return;
  }
  if (!c->closing && (events & UV_WRITABLE)) mosquitto_loop_write(c->m, 1);
  if (!c->closing) mqttc__update(c);
}

static void mqttc__timer_cb(uv_timer_t *t) {
  mqttc *c = t->data;
  /* no keepalive before the TCP connection is up (it would PING, then drop) */
  if (c->closing || c->connecting || c->failed) return;
  mosquitto_loop_misc(c->m);
  mqttc__update(c);
}

/* Keeps the poll in step with libmosquitto's socket and write queue. The
 * harness's clients never reconnect: a lost socket just stops the poll. */
static void mqttc__update(mqttc *c) {
  if (c->closing || c->failed) return;
  if (c->connecting) {
    uv_poll_start(&c->poll, UV_WRITABLE, mqttc__poll_cb);
    c->polling = 1;
    return;
  }
  int fd = mosquitto_socket(c->m);
  if (fd < 0 || fd != c->fd) {
    if (c->polling) uv_poll_stop(&c->poll);
    c->polling = 0;
    return;
  }
  int ev = UV_READABLE | (mosquitto_want_write(c->m) ? UV_WRITABLE : 0);
  uv_poll_start(&c->poll, ev, mqttc__poll_cb);
  c->polling = 1;
}

/* TLS with verification (peer and host name, libmosquitto's default unless insecure). */
static int mqttc__tls(mqttc *c, const mqttc_tls *tls, char *err, size_t errlen) {
  int rc = tls->ca_file ? mosquitto_tls_set(c->m, tls->ca_file, NULL, NULL, NULL, NULL)
                        : mosquitto_int_option(c->m, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
  if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_opts_set(c->m, 1, NULL, NULL);
  if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_insecure_set(c->m, false);
  if (rc != MOSQ_ERR_SUCCESS) {
    snprintf(err, errlen, "mqtt connect to %s: TLS: CA '%s': %s", c->where, tls->ca_file ? tls->ca_file : "(system)",
             rc == MOSQ_ERR_INVAL ? "cannot be read" : mosquitto_strerror(rc));
    return -1;
  }
  c->tls = 1;
  mosquitto_log_callback_set(c->m, mqttc__on_log);
  return 0;
}

int mqttc_open(uv_loop_t *loop, const char *client_id, const char *host, int port,
               const mqttc_cbs *cbs, void *arg, mqttc **out, char *err, size_t errlen) {
  return mqttc_open_tls(loop, client_id, host, port, NULL, cbs, arg, out, err, errlen);
}

int mqttc_open_tls(uv_loop_t *loop, const char *client_id, const char *host, int port, const mqttc_tls *tls,
                   const mqttc_cbs *cbs, void *arg, mqttc **out, char *err, size_t errlen) {
  mqttc *c = calloc(1, sizeof *c);
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  c->cbs = *cbs;
  c->arg = arg;
  c->fd = -1;
  c->m = mosquitto_new(client_id, true, c);
  if (!c->m) {
    snprintf(err, errlen, "mosquitto_new failed for client '%s'", client_id);
    free(c);
    return -1;
  }
  mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_int_option(c->m, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_connect_callback_set(c->m, mqttc__on_connect);
  mosquitto_disconnect_callback_set(c->m, mqttc__on_disconnect);
  mosquitto_subscribe_callback_set(c->m, mqttc__on_subscribe);
  mosquitto_publish_callback_set(c->m, mqttc__on_publish);
  mosquitto_message_callback_set(c->m, mqttc__on_message);
  snprintf(c->where, sizeof c->where, "%s:%d", host, port);
  if (tls && mqttc__tls(c, tls, err, errlen) != 0) {
    mosquitto_destroy(c->m);
    free(c);
    return -1;
  }
  /* Non-blocking: the TCP handshake goes on in the loop (mqttc__connect_done).
   * libmosquitto queues the CONNECT at once. Its getaddrinfo() still blocks,
   * which is instant for the numeric hosts and "localhost" otahil uses. */
  errno = 0;
  int rc = mosquitto_connect_async(c->m, host, port, 30);
  int e = errno;
  c->fd = rc == MOSQ_ERR_SUCCESS ? mosquitto_socket(c->m) : -1;
  if (rc == MOSQ_ERR_SUCCESS && c->fd >= 0) {
    /* a refusal on loopback is known already: say it now, as a plain error */
    socklen_t len = sizeof e;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0) e = errno;
    if (e != 0) rc = MOSQ_ERR_ERRNO;
  }
  if (rc != MOSQ_ERR_SUCCESS || c->fd < 0) {
    const char *why = rc == MOSQ_ERR_SUCCESS ? "no socket"
                      : rc == MOSQ_ERR_ERRNO ? (e ? strerror(e) : "connect failed")
                      : rc == MOSQ_ERR_EAI   ? gai_strerror(e)
                                             : mosquitto_strerror(rc);
    if (c->tls_failed) snprintf(err, errlen, "%s", c->error); /* the handshake's reason, from the log */
    else if (rc == MOSQ_ERR_ERRNO && e) mqttc__errno_text(c, e, err, errlen);
    else snprintf(err, errlen, "mqtt connect to %s: %s", c->where, why);
    mosquitto_destroy(c->m);
    free(c);
    return -1;
  }
  c->connecting = 1;
  snprintf(c->error, sizeof c->error, "mqtt connect to %s: no answer (TCP connect in progress)",
           c->where);
  uv_poll_init_socket(loop, &c->poll, c->fd);
  c->poll.data = c;
  c->pending_close = 1;
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  c->pending_close++;
  uv_timer_start(&c->timer, mqttc__timer_cb, 250, 250);
  mqttc__update(c);
  *out = c;
  return 0;
}

const char *mqttc_error(const mqttc *c) {
  return c->connecting || c->failed || c->tls_failed ? c->error : NULL;
}

struct probe {
  int done, rc;
};

static void probe_connect(void *arg, int rc) {
  struct probe *p = arg;
  p->done = 1;
  p->rc = rc;
}

static void probe_lost(void *arg, int rc) {
  struct probe *p = arg;
  if (!p->done) p->done = 1, p->rc = rc ? rc : -1;
}

static void probe_tick(uv_timer_t *t) { (void)t; }

int mqttc_probe(uv_loop_t *loop, const char *host, int port, const mqttc_tls *tls, double timeout_s, char *err,
                size_t errlen) {
  char id[64];
  struct probe p = {0, 0};
  mqttc_cbs cbs = {probe_connect, probe_lost, NULL, NULL, NULL};
  mqttc *c = NULL;
  snprintf(id, sizeof id, "otahil-probe-%ld", (long)getpid());
  if (mqttc_open_tls(loop, id, host, port, tls, &cbs, &p, &c, err, errlen) != 0) return -1;
  uv_timer_t tick; /* wakes the loop to look at the clock */
  uv_timer_init(loop, &tick);
  uv_timer_start(&tick, probe_tick, 50, 50);
  uint64_t end = uv_hrtime() + (uint64_t)(timeout_s * 1e9);
  while (!p.done && uv_hrtime() < end) uv_run(loop, UV_RUN_ONCE);
  const char *why = mqttc_error(c);
  if (!p.done) snprintf(err, errlen, "%s", why ? why : "mqtt connect: no CONNACK from the broker in time");
  else if (p.rc > 0 && !why) snprintf(err, errlen, "mqtt connect to %s:%d: %s", host, port, mosquitto_connack_string(p.rc));
  else if (p.rc) snprintf(err, errlen, "%s", why ? why : "mqtt connect: the connection was lost");
  int ok = p.done && p.rc == 0;
  mqttc_close(c);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(loop, UV_RUN_NOWAIT); /* the closes */
  return ok ? 0 : -1;
}

int mqttc_subscribe(mqttc *c, const char *filter, int qos, int *mid) {
  int rc = mosquitto_subscribe(c->m, mid, filter, qos);
  mqttc__update(c);
  return rc;
}

int mqttc_unsubscribe(mqttc *c, const char *filter) {
  int rc = mosquitto_unsubscribe(c->m, NULL, filter);
  mqttc__update(c);
  return rc;
}

int mqttc_publish(mqttc *c, const char *topic, const void *payload, int len, int qos, int retain,
                  int *mid) {
  int rc = mosquitto_publish(c->m, mid, topic, len, payload, qos, retain != 0);
  mqttc__update(c);
  return rc;
}

static void mqttc__closed(uv_handle_t *h) {
  mqttc *c = h->data;
  if (--c->pending_close > 0) return;
  mosquitto_destroy(c->m);
  free(c);
}

void mqttc_close(mqttc *c) {
  if (!c || c->closing) return;
  c->closing = 1;
  /* A clean DISCONNECT is best effort: write it now if the socket takes it
   * (not before the TCP connection is up, nor on a socket that failed). */
  if (!c->connecting && !c->failed) mosquitto_disconnect(c->m);
  uv_poll_stop(&c->poll);
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->poll, mqttc__closed);
  uv_close((uv_handle_t *)&c->timer, mqttc__closed);
}
