#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evqueue.h"

struct evqueue {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  evq_event *ring;
  size_t max, head, count;
};

evqueue *evqueue_new(size_t max) {
  if (max == 0) return NULL;
  evqueue *q = calloc(1, sizeof *q);
  if (!q) return NULL;
  q->ring = calloc(max, sizeof *q->ring);
  if (!q->ring) {
    free(q);
    return NULL;
  }
  q->max = max;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  /* A monotonic clock, so a wall-clock jump does not stretch a timeout. */
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&q->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&q->mu, NULL);
  return q;
}

void evqueue_event_free(evq_event *ev) {
  if (!ev) return;
  free(ev->topic);
  free(ev->payload);
  ev->topic = NULL;
  ev->payload = NULL;
}

int evqueue_push(evqueue *q, evq_event *ev) {
  pthread_mutex_lock(&q->mu);
  if (q->count == q->max) {
    pthread_mutex_unlock(&q->mu);
    evqueue_event_free(ev);
    return -1;
  }
  q->ring[(q->head + q->count) % q->max] = *ev;
  q->count++;
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->mu);
  return 0;
}

int evqueue_pop(evqueue *q, evq_event *out, long timeout_ms) {
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += timeout_ms / 1000;
  deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&q->mu);
  while (q->count == 0 && timeout_ms > 0) {
    if (pthread_cond_timedwait(&q->cv, &q->mu, &deadline) == ETIMEDOUT) break;
  }
  int got = 0;
  if (q->count > 0) {
    *out = q->ring[q->head];
    memset(&q->ring[q->head], 0, sizeof q->ring[q->head]);
    q->head = (q->head + 1) % q->max;
    q->count--;
    got = 1;
  }
  pthread_mutex_unlock(&q->mu);
  return got;
}

void evqueue_free(evqueue *q) {
  if (!q) return;
  for (size_t i = 0; i < q->count; i++) evqueue_event_free(&q->ring[(q->head + i) % q->max]);
  free(q->ring);
  pthread_cond_destroy(&q->cv);
  pthread_mutex_destroy(&q->mu);
  free(q);
}
