/* stage_latency: each chunk may leave no earlier than ms +- jitter after it arrived. The
 * queue is FIFO, so jitter never reorders bytes: a chunk waits behind a later one. */
#include "netem_int.h"

uint64_t stage_latency_not_before(struct dir *d, uint64_t now) {
  uint64_t ms = 0;
  int any = 0;
  for (struct fault *f = d->c->p->faults; f; f = f->next) {
    if (f->f.kind != NETEM_FAULT_LATENCY || !proxy__fault_applies(f, d)) continue;
    any = 1;
    uint64_t j = f->f.jitter_ms;
    ms += f->f.ms - j + (j ? rng_below(&d->rng, 2 * j + 1) : 0);
  }
  return any ? now + ms * 1000000ull : 0;
}

void stage_latency_removed(struct netem_proxy *p) {
  for (struct conn *c = p->conns; c; c = c->next) {
    struct dir *ds[2] = {&c->up, &c->down};
    for (int i = 0; i < 2; i++)
      for (struct qent *e = ds[i]->qhead; e; e = e->next) e->not_before = 0;
  }
}
