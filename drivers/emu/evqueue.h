/* evqueue: a bounded queue of MQTT events, from the mosquitto network thread
 * to the main thread (mutex + condition variable). The main thread runs the
 * download and the burn, so it takes events whenever it can.
 */
#ifndef OTAHIL_EMU_EVQUEUE_H
#define OTAHIL_EMU_EVQUEUE_H

#include <stddef.h>

typedef enum evq_type { EVQ_CONNECTED, EVQ_DISCONNECTED, EVQ_MESSAGE } evq_type;

typedef struct evq_event {
  evq_type type;
  int rc;             /* connect/disconnect reason code */
  char *topic;        /* EVQ_MESSAGE: NUL-terminated, owned by the event */
  char *payload;      /* EVQ_MESSAGE: `len` bytes + a NUL; NULL when too large */
  size_t len;         /* payload length as received */
  int too_large;      /* the payload was over the limit and not copied */
} evq_event;

typedef struct evqueue evqueue;

/* Makes a queue that holds at most `max` events. NULL if out of memory. */
evqueue *evqueue_new(size_t max);

/* Appends `ev`, taking ownership of its strings. Returns 0, or -1 when the
 * queue is full (the event's strings are freed). */
int evqueue_push(evqueue *q, evq_event *ev);

/* Takes the oldest event into `out` (the caller frees it with
 * evqueue_event_free), waiting at most `timeout_ms` (0 = do not wait).
 * Returns 1 if an event was taken, 0 on timeout. */
int evqueue_pop(evqueue *q, evq_event *out, long timeout_ms);

/* Frees the strings of an event taken from the queue. */
void evqueue_event_free(evq_event *ev);

/* Frees the queue and any events left in it. */
void evqueue_free(evqueue *q);

#endif
