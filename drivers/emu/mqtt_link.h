/* mqtt_link: the device's MQTT connection (libmosquitto, MQTT 3.1.1).
 *
 * libmosquitto's own thread (mosquitto_loop_start) does the network work and
 * reconnects by itself; its callbacks only copy events into an evqueue. The
 * main thread takes them with mqtt_link_next and publishes from there
 * (mosquitto_publish is safe to call from another thread).
 */
#ifndef OTAHIL_EMU_MQTT_LINK_H
#define OTAHIL_EMU_MQTT_LINK_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "evqueue.h"

typedef struct mqtt_link mqtt_link;

typedef struct mqtt_link_opts {
  const char *host;
  int port;
  const char *client_id;
  int keepalive_s;
  size_t max_payload; /* larger messages arrive as events with too_large set */
  const char *ca_file; /* MQTT over TLS, the broker's certificate verified against it; NULL: TCP */
  int no_verify;       /* with ca_file: accept any certificate (the no-cert-verify defect) */
  int no_hostname;     /* with ca_file: verify the chain but not the name (no-hostname-check) */
  const char *username, *password; /* the CONNECT's credentials (login.h), NULL: none */
  /* When set, called before every CONNECT after the first (a retried first connect, each
   * reconnect of libmosquitto's thread, on that thread) to sign the login afresh: 0 with
   * *username and *password (copied at once), or -1 to keep the last ones. */
  int (*resign)(void *ctx, const char **username, const char **password);
  void *resign_ctx;
} mqtt_link_opts;

/* Starts connecting in the background (a broker that is not up yet is
 * retried). Returns the link, or NULL with `err` set when libmosquitto
 * refuses the options. */
mqtt_link *mqtt_link_open(const mqtt_link_opts *o, char *err, size_t errlen);

/* Takes the next event (see evqueue_pop): 1 with `ev` filled (free it with
 * evqueue_event_free), 0 after `timeout_ms` without one. */
int mqtt_link_next(mqtt_link *l, evq_event *ev, long timeout_ms);

/* Subscribes to `topic`. Returns 0 or a MOSQ_ERR_* code (logged). */
int mqtt_link_subscribe(mqtt_link *l, const char *topic, int qos);

/* Publishes a text payload and logs it on the console. Returns 0 or a
 * MOSQ_ERR_* code (logged); QoS 1 messages are kept for a reconnect. */
int mqtt_link_publish(mqtt_link *l, const char *topic, const char *payload, int qos);

/* Publishes `root` as compact JSON text, as mqtt_link_publish does, and
 * deletes it: the link takes `root` in every case (NULL is taken too, as out
 * of memory). Returns 0, a MOSQ_ERR_* code, or MOSQ_ERR_NOMEM when the text
 * cannot be built (logged). */
int mqtt_link_publish_json(mqtt_link *l, const char *topic, cJSON *root, int qos);

/* Waits up to `timeout_ms` until every QoS 1 publish was acknowledged.
 * Returns 0 when all were, -1 on timeout. */
int mqtt_link_flush(mqtt_link *l, long timeout_ms);

/* Disconnects cleanly, stops the network thread and frees the link. */
void mqtt_link_close(mqtt_link *l);

#endif
