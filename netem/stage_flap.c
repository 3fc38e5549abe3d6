/* stage_flap: a weak link. Counts the bytes of its direction over all connections of the
 * proxy and cuts whichever connection carries byte number `every`, then counts again. */
#include <stdlib.h>

#include "netem_int.h"

size_t stage_flap_limit(struct fault *f, struct dir *d, size_t len) {
  (void)d;
  if (!proxy__fault_available(f)) return SIZE_MAX;
  uint64_t rem = f->f.every - f->flap_since;
  return rem < len ? (size_t)rem : SIZE_MAX;
}

void stage_flap_count(struct fault *f, size_t n) { f->flap_since += n; }

void stage_flap_fire(struct fault *f, struct dir *d, const struct span_meta *m) {
  f->flap_since = 0;
  /* the same marker as a cut, named as the flap in the event */
  stage_cut_fire(f, d, m);
}
