/* stage_corrupt: change chosen bytes in place. A fault applies to one message at a time
 * (an HTTP response with body offsets, else a connection's stream): it claims the message
 * whose bytes reach its first offset (for random offsets: the message's first byte), and
 * `times` counts claims. Offsets and XOR masks come from the seed, so a run replays. */
#include <stdlib.h>
#include <string.h>

#include "netem_int.h"

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void claim(struct fault *f, struct dir *d, const struct span_meta *m) {
  struct netem_proxy *p = d->c->p;
  f->claimed = 1;
  f->claim_conn = d->c->id;
  f->claim_dir = d->which;
  f->claim_msg = f->f.unit == NETEM_UNIT_BODY ? m->msg : 0;
  f->fired++;
  uint64_t rng = proxy__rng_seed(p, f->id, f->fired);
  if (f->f.random) {
    uint64_t within = f->f.within;
    if (!within) within = f->f.unit == NETEM_UNIT_BODY && m->content_length > 0 ? (uint64_t)m->content_length : 65536;
    size_t n = f->f.random < NETEM_MAX_OFFSETS ? f->f.random : NETEM_MAX_OFFSETS;
    if (n > within) n = (size_t)within;
    f->npos = 0;
    while (f->npos < n) {
      uint64_t q = rng_below(&rng, within);
      int dup = 0;
      for (size_t i = 0; i < f->npos; i++) dup |= f->pos[i] == q;
      if (!dup) f->pos[f->npos++] = q;
    }
  } else {
    f->npos = f->f.n_offsets;
    memcpy(f->pos, f->f.offsets, f->npos * sizeof f->pos[0]);
  }
  qsort(f->pos, f->npos, sizeof f->pos[0], cmp_u64);
  for (size_t i = 0; i < f->npos; i++)
    f->mask[i] = f->f.xor_mask ? (uint8_t)f->f.xor_mask : (uint8_t)(1 + rng_below(&rng, 255));
}

void stage_corrupt_apply(struct fault *f, struct dir *d, uint8_t *data, size_t len, const struct span_meta *m) {
  if (f->f.unit == NETEM_UNIT_BODY && !m->is_body) return; /* headers are never touched */
  uint64_t pos = f->f.unit == NETEM_UNIT_BODY ? m->body_off : m->off;
  uint32_t key = f->f.unit == NETEM_UNIT_BODY ? m->msg : 0;
  if (f->claimed) {
    if (f->claim_conn != d->c->id || f->claim_dir != d->which) return; /* another message has it */
    if (f->claim_msg != key) f->claimed = 0;                           /* its message is over */
  }
  if (!f->claimed) {
    if (!proxy__fault_available(f)) return;
    if (f->f.random) {
      if (pos != 0) return;
    } else {
      int hit = 0;
      for (size_t i = 0; i < f->f.n_offsets; i++) hit |= f->f.offsets[i] >= pos && f->f.offsets[i] - pos < len;
      if (!hit) return;
    }
    claim(f, d, m);
  }
  for (size_t i = 0; i < f->npos; i++) {
    uint64_t q = f->pos[i];
    if (q < pos || q - pos >= len) continue;
    size_t k = (size_t)(q - pos);
    struct netem_event ev;
    proxy__event_init(&ev, NETEM_EV_FAULT, d);
    ev.fault_id = f->id;
    ev.fault = "corrupt";
    ev.action = "corrupt";
    ev.offset = m->off + k;
    ev.body_offset = m->is_body ? (int64_t)(m->body_off + k) : -1;
    ev.msg_index = m->msg;
    ev.old_byte = data[k];
    data[k] ^= f->mask[i];
    ev.new_byte = data[k];
    proxy__emit(d->c->p, &ev);
  }
}

void stage_corrupt_conn_closed(struct fault *f, struct conn *c) {
  if (f->f.kind == NETEM_FAULT_CORRUPT && f->claimed && f->claim_conn == c->id) f->claimed = 0;
}
