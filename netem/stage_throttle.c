/* stage_throttle: pace writes to at most `rate` bytes/s per connection and direction, in
 * slices of about 20 ms so the rate is smooth; the slowest throttle wins. */
#include "netem_int.h"

#define SLICE_NS 20000000ull

size_t stage_throttle_slice(struct dir *d, uint64_t now, size_t len, uint64_t *wake) {
  uint64_t rate = 0;
  for (struct fault *f = d->c->p->faults; f; f = f->next)
    if (f->f.kind == NETEM_FAULT_THROTTLE && proxy__fault_applies(f, d) && (rate == 0 || f->f.rate < rate))
      rate = f->f.rate;
  if (rate == 0) return len;
  if (d->tb_next > now) {
    *wake = d->tb_next;
    return 0;
  }
  uint64_t n = rate * SLICE_NS / 1000000000ull;
  if (n == 0) n = 1;
  if (n > 65536) n = 65536;
  if (n > len) n = len;
  /* an idle link does not save up credit for a burst beyond one slice */
  uint64_t base = d->tb_next + SLICE_NS > now ? d->tb_next : now;
  d->tb_next = base + n * 1000000000ull / rate;
  return (size_t)n;
}

void stage_throttle_removed(struct netem_proxy *p) {
  for (struct conn *c = p->conns; c; c = c->next) c->up.tb_next = c->down.tb_next = 0;
}
