/* broker: the embedded MQTT broker, a `mosquitto` child process on a free
 * 127.0.0.1 port with a generated config (loopback only, no persistence). */
#ifndef OTAHIL_BROKER_H
#define OTAHIL_BROKER_H

#include <stddef.h>
#include <uv.h>

typedef struct broker broker;

/* Writes DIR/mosquitto.conf, starts the broker (log in DIR/mosquitto.log) and
 * waits until it accepts connections, at most `timeout_s`. Runs the loop while
 * waiting. Returns 0, or -1 with err set (the child is reaped on failure). */
int broker_start(uv_loop_t *loop, const char *dir, double timeout_s, broker **out, char *err,
                 size_t errlen);
int broker_port(const broker *b);

/* SIGTERM, then SIGKILL after `grace_s`; runs the loop until the child is reaped; frees b. */
void broker_stop(broker *b, double grace_s);

/* Picks a free TCP port on 127.0.0.1 (bind to port 0). Returns it, or -1. */
int net_free_port(void);

/* Tries to connect to host:port until it works or timeout_s passes, running the
 * loop in between. Returns 0 when it connected. `alive`, if not NULL, is
 * checked between tries: when it becomes 0 the wait ends at once. */
int net_wait_port(uv_loop_t *loop, const char *host, int port, double timeout_s,
                  const int *alive);

#endif
