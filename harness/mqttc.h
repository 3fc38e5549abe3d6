/* mqttc: a libmosquitto client driven by a libuv loop (no extra thread).
 * The socket is watched with a uv_poll_t; a 250 ms timer runs keepalive. */
#ifndef OTAHIL_MQTTC_H
#define OTAHIL_MQTTC_H

#include <stddef.h>
#include <uv.h>

typedef struct mqttc mqttc;

typedef struct mqttc_cbs {
  void (*on_connect)(void *arg, int rc);
  void (*on_disconnect)(void *arg, int rc);
  void (*on_subscribe)(void *arg, int mid);
  void (*on_publish)(void *arg, int mid);
  void (*on_message)(void *arg, const char *topic, const void *payload, int len, int qos,
                     int retain);
} mqttc_cbs;

/* Connects (the TCP connect is synchronous; CONNACK arrives via on_connect).
 * Returns 0, or -1 with err set. `cbs` is copied. */
int mqttc_open(uv_loop_t *loop, const char *client_id, const char *host, int port,
               const mqttc_cbs *cbs, void *arg, mqttc **out, char *err, size_t errlen);

/* Return 0 or a MOSQ_ERR_* code; *mid gets the message id. */
int mqttc_subscribe(mqttc *c, const char *filter, int qos, int *mid);
int mqttc_unsubscribe(mqttc *c, const char *filter);
int mqttc_publish(mqttc *c, const char *topic, const void *payload, int len, int qos, int retain,
                  int *mid);

/* Disconnects and frees asynchronously; no callback is called after this. */
void mqttc_close(mqttc *c);

#endif
