/* rng: splitmix64, the only source of randomness, so a seed replays a run exactly. */
#include "netem_int.h"

uint64_t rng_next(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform in [0, n) without modulo bias; n > 0. */
uint64_t rng_below(uint64_t *state, uint64_t n) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  for (;;) {
    uint64_t r = rng_next(state);
    if (r < limit) return r % n;
  }
}
