#include <mosquitto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errmsg.h"
#include "console.h"
#include "fsutil.h"
#include "mqtt_link.h"

#define QUEUE_MAX 256

struct mqtt_link {
  struct mosquitto *mosq;
  evqueue *q;
  size_t max_payload;
  pthread_mutex_t mu;
  int inflight; /* QoS 1 publishes not yet acknowledged */
  /* Until the first connect succeeds the network thread is not started:
   * libmosquitto's thread would wait a whole keepalive before retrying a
   * first connect that failed, so we retry it here, from mqtt_link_next. */
  int started;
  long backoff_ms;
  struct timespec next_try;
  char host[256];
  int port, keepalive;
  int (*resign)(void *ctx, const char **username, const char **password);
  void *resign_ctx;
  int attempts; /* first connects tried */
  int closing;  /* mqtt_link_close disconnects: no more CONNECTs */
};

/* The next CONNECT's credentials, signed afresh (mqtt_link_opts.resign). libmosquitto
 * copies them; its thread reads them only when it connects, so this runs on that thread
 * (or before it starts). */
static void resign(mqtt_link *l) {
  const char *user = NULL, *pass = NULL;
  pthread_mutex_lock(&l->mu);
  int closing = l->closing;
  pthread_mutex_unlock(&l->mu);
  if (!l->resign || closing || l->resign(l->resign_ctx, &user, &pass) != 0 || !user) return;
  if (mosquitto_username_pw_set(l->mosq, user, pass) != MOSQ_ERR_SUCCESS)
    console_log("mqtt: libmosquitto refused the user name %s", user);
}

static long ms_until(const struct timespec *t) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (long)(t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000;
}

static void schedule(struct timespec *t, long ms) {
  clock_gettime(CLOCK_MONOTONIC, t);
  t->tv_sec += ms / 1000;
  t->tv_nsec += (ms % 1000) * 1000000L;
  if (t->tv_nsec >= 1000000000L) {
    t->tv_sec++;
    t->tv_nsec -= 1000000000L;
  }
}

/* One attempt at the first connect; starts the network thread on success.
 * Returns 0 on success, -1 (retry later) or -2 (cannot start the thread). */
static int try_first_connect(mqtt_link *l, int quiet) {
  if (l->attempts++ > 0) resign(l);
  int rc = mosquitto_connect_async(l->mosq, l->host, l->port, l->keepalive);
  if (rc != MOSQ_ERR_SUCCESS) {
    if (!quiet)
      console_log("mqtt connect: %s (retrying)",
                  rc == MOSQ_ERR_ERRNO ? "connection refused or unreachable" : mosquitto_strerror(rc));
    schedule(&l->next_try, l->backoff_ms);
    l->backoff_ms = l->backoff_ms * 2 > 2000 ? 2000 : l->backoff_ms * 2;
    return -1;
  }
  if (mosquitto_loop_start(l->mosq) != MOSQ_ERR_SUCCESS) return -2;
  l->started = 1;
  return 0;
}

static void push(mqtt_link *l, evq_event *ev) {
  if (evqueue_push(l->q, ev) != 0) console_log("mqtt: event queue full, event dropped");
}

static void on_connect(struct mosquitto *m, void *obj, int rc) {
  (void)m;
  evq_event ev = {.type = rc == 0 ? EVQ_CONNECTED : EVQ_DISCONNECTED, .rc = rc};
  push(obj, &ev);
}

/* Also after a refused CONNACK. The thread reconnects next: sign that CONNECT afresh
 * (a signature that expired since the last one would be refused). */
static void on_disconnect(struct mosquitto *m, void *obj, int rc) {
  (void)m;
  resign(obj);
  evq_event ev = {.type = EVQ_DISCONNECTED, .rc = rc};
  push(obj, &ev);
}

static void on_publish(struct mosquitto *m, void *obj, int mid) {
  (void)m, (void)mid;
  mqtt_link *l = obj;
  pthread_mutex_lock(&l->mu);
  l->inflight--;
  pthread_mutex_unlock(&l->mu);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg) {
  (void)m;
  mqtt_link *l = obj;
  evq_event ev = {.type = EVQ_MESSAGE};
  size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
  ev.len = len;
  ev.topic = strdup(msg->topic ? msg->topic : "");
  if (len > l->max_payload) {
    ev.too_large = 1;
  } else {
    ev.payload = malloc(len + 1);
    if (ev.payload) {
      if (len) memcpy(ev.payload, msg->payload, len);
      ev.payload[len] = 0;
    }
  }
  if (!ev.topic || (!ev.too_large && !ev.payload)) {
    evqueue_event_free(&ev);
    console_log("mqtt: out of memory, message dropped");
    return;
  }
  push(l, &ev);
}

mqtt_link *mqtt_link_open(const mqtt_link_opts *o, char *err, size_t errlen) {
  mqtt_link *l = calloc(1, sizeof *l);
  if (!l || !(l->q = evqueue_new(QUEUE_MAX))) {
    free(l);
    errmsg(err, errlen, "mqtt: out of memory");
    return NULL;
  }
  pthread_mutex_init(&l->mu, NULL);
  l->max_payload = o->max_payload;
  l->mosq = mosquitto_new(o->client_id, true, l);
  if (!l->mosq) {
    errmsg(err, errlen, "mqtt: mosquitto_new failed for client id %s", o->client_id);
    evqueue_free(l->q);
    pthread_mutex_destroy(&l->mu);
    free(l);
    return NULL;
  }
  mosquitto_int_option(l->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_int_option(l->mosq, MOSQ_OPT_TCP_NODELAY, 1); /* requests go out at once */
  if (o->ca_file && (mosquitto_tls_set(l->mosq, o->ca_file, NULL, NULL, NULL, NULL) != MOSQ_ERR_SUCCESS ||
                     (o->no_verify && mosquitto_tls_opts_set(l->mosq, 0 /* SSL_VERIFY_NONE */, NULL, NULL)) ||
                     ((o->no_verify || o->no_hostname) && mosquitto_tls_insecure_set(l->mosq, true)))) {
    errmsg(err, errlen, "mqtt: TLS with CA file %s refused by libmosquitto", o->ca_file);
    mosquitto_destroy(l->mosq);
    evqueue_free(l->q);
    pthread_mutex_destroy(&l->mu);
    free(l);
    return NULL;
  }
  if (o->username && mosquitto_username_pw_set(l->mosq, o->username, o->password) != MOSQ_ERR_SUCCESS) {
    errmsg(err, errlen, "mqtt: libmosquitto refused the user name %s", o->username);
    mosquitto_destroy(l->mosq);
    evqueue_free(l->q);
    pthread_mutex_destroy(&l->mu);
    free(l);
    return NULL;
  }
  mosquitto_connect_callback_set(l->mosq, on_connect);
  mosquitto_disconnect_callback_set(l->mosq, on_disconnect);
  mosquitto_publish_callback_set(l->mosq, on_publish);
  mosquitto_message_callback_set(l->mosq, on_message);
  /* libmosquitto counts the delay in whole seconds: 1 s, then 2 s at most. */
  mosquitto_reconnect_delay_set(l->mosq, 1, 2, false);
  console_log("mqtt connecting to %s:%d as %s", o->host, o->port, o->client_id);
  snprintf(l->host, sizeof l->host, "%s", o->host);
  l->port = o->port;
  l->keepalive = o->keepalive_s;
  l->backoff_ms = 200;
  l->resign = o->resign;
  l->resign_ctx = o->resign_ctx;
  if (try_first_connect(l, 0) == -2) {
    errmsg(err, errlen, "mqtt: cannot start the network thread");
    mosquitto_destroy(l->mosq);
    evqueue_free(l->q);
    pthread_mutex_destroy(&l->mu);
    free(l);
    return NULL;
  }
  return l;
}

int mqtt_link_next(mqtt_link *l, evq_event *ev, long timeout_ms) {
  if (!l->started) {
    long wait = ms_until(&l->next_try);
    if (wait <= 0) {
      if (try_first_connect(l, 1) == -2) console_log("mqtt: cannot start the network thread");
      wait = l->started ? timeout_ms : ms_until(&l->next_try);
    }
    if (wait < timeout_ms) timeout_ms = wait < 0 ? 0 : wait;
  }
  return evqueue_pop(l->q, ev, timeout_ms);
}

int mqtt_link_subscribe(mqtt_link *l, const char *topic, int qos) {
  int rc = mosquitto_subscribe(l->mosq, NULL, topic, qos);
  if (rc != MOSQ_ERR_SUCCESS)
    console_log("mqtt subscribe %s: %s", topic, mosquitto_strerror(rc));
  else
    console_log("mqtt subscribe %s qos=%d", topic, qos);
  return rc;
}

int mqtt_link_publish(mqtt_link *l, const char *topic, const char *payload, int qos) {
  pthread_mutex_lock(&l->mu);
  if (qos > 0) l->inflight++;
  pthread_mutex_unlock(&l->mu);
  int rc = mosquitto_publish(l->mosq, NULL, topic, (int)strlen(payload), payload, qos, false);
  if (rc != MOSQ_ERR_SUCCESS) {
    pthread_mutex_lock(&l->mu);
    if (qos > 0) l->inflight--;
    pthread_mutex_unlock(&l->mu);
    console_log("mqtt publish %s failed (%s): %s", topic, mosquitto_strerror(rc), payload);
    return rc;
  }
  console_log("mqtt publish %s %s", topic, payload);
  return 0;
}

int mqtt_link_publish_json(mqtt_link *l, const char *topic, cJSON *root, int qos) {
  char *text = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!text) {
    console_log("mqtt publish %s: out of memory building the message", topic);
    return MOSQ_ERR_NOMEM;
  }
  int rc = mqtt_link_publish(l, topic, text, qos);
  free(text);
  return rc;
}

int mqtt_link_flush(mqtt_link *l, long timeout_ms) {
  for (long waited = 0;; waited += 10) {
    pthread_mutex_lock(&l->mu);
    int n = l->inflight;
    pthread_mutex_unlock(&l->mu);
    if (n <= 0) return 0;
    if (waited >= timeout_ms) return -1;
    fs_sleep_ms(10);
  }
}

void mqtt_link_close(mqtt_link *l) {
  if (!l) return;
  pthread_mutex_lock(&l->mu);
  l->closing = 1;
  pthread_mutex_unlock(&l->mu);
  if (l->started && mosquitto_disconnect(l->mosq) == MOSQ_ERR_SUCCESS) {
    /* The network thread sends DISCONNECT and reports it; give it a second. */
    evq_event ev;
    for (int i = 0; i < 20; i++) {
      if (!evqueue_pop(l->q, &ev, 50)) continue;
      int done = ev.type == EVQ_DISCONNECTED;
      evqueue_event_free(&ev);
      if (done) break;
    }
  }
  /* force: the thread may still be sleeping before a reconnect. */
  if (l->started) mosquitto_loop_stop(l->mosq, true);
  mosquitto_destroy(l->mosq);
  evqueue_free(l->q);
  pthread_mutex_destroy(&l->mu);
  free(l);
}
