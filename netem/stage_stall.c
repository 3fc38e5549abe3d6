/* stage_stall: stop forwarding and keep the connection open, at an offset or at once,
 * for a duration or until the fault is removed. Bytes keep queueing up to the high-water
 * mark, then reading stops (backpressure), so a stall holds little memory. */
#include <stdlib.h>

#include "netem_int.h"

size_t stage_stall_limit(struct fault *f, struct dir *d, const struct span_meta *m, size_t len) {
  if (!f->f.has_at || !proxy__fault_available(f)) return SIZE_MAX;
  uint64_t pos;
  uint32_t key = 0;
  if (f->f.unit == NETEM_UNIT_BODY) {
    if (!m->is_body) return SIZE_MAX;
    pos = m->body_off;
    key = m->msg;
  } else {
    pos = m->off;
  }
  if (f->has_last && f->last_conn == d->c->id && f->last_dir == d->which && f->last_msg == key)
    return SIZE_MAX; /* fired here already */
  if (f->f.at < pos || f->f.at - pos >= len) return SIZE_MAX;
  return (size_t)(f->f.at - pos);
}

void stage_stall_fire(struct fault *f, struct dir *d, const struct span_meta *m) {
  struct qent *e = calloc(1, sizeof *e);
  if (!e) {
    conn__close(d->c, 1, "out of memory");
    return;
  }
  f->fired++;
  f->has_last = 1;
  f->last_conn = d->c->id;
  f->last_dir = d->which;
  f->last_msg = f->f.unit == NETEM_UNIT_BODY ? m->msg : 0;
  e->kind = Q_STALL;
  e->fault_id = f->id;
  e->fault_kind = f->f.kind;
  e->ms = f->f.ms;
  e->ev_off = m->off;
  e->ev_body_off = m->is_body ? (int64_t)m->body_off : -1;
  e->ev_msg = m->msg;
  pipe__push_marker(d, e);
}

static void stall_event(struct dir *d, uint32_t fault_id, const char *action, uint64_t off, int64_t body_off,
                        uint32_t msg) {
  struct netem_event ev;
  proxy__event_init(&ev, NETEM_EV_FAULT, d);
  ev.fault_id = fault_id;
  ev.fault = "stall";
  ev.action = action;
  ev.offset = off;
  ev.body_offset = body_off;
  ev.msg_index = msg;
  proxy__emit(d->c->p, &ev);
}

void stage_stall_begin(struct dir *d, const struct qent *m, uint64_t now) {
  d->stall_until = m->ms ? now + m->ms * 1000000ull : NETEM_FOREVER;
  d->stall_fault = m->fault_id;
  stall_event(d, m->fault_id, "stall", m->ev_off, m->ev_body_off, m->ev_msg);
}

int stage_stall_blocked(struct dir *d, uint64_t now, uint64_t *wake) {
  *wake = 0;
  if (d->stall_until) {
    if (d->stall_until == NETEM_FOREVER) return 1;
    if (now < d->stall_until) {
      *wake = d->stall_until;
      return 1;
    }
    d->stall_until = 0;
    stall_event(d, d->stall_fault, "release", d->read_off, -1, 0);
  }
  for (struct fault *f = d->c->p->faults; f; f = f->next) {
    if (f->f.kind != NETEM_FAULT_STALL || f->f.has_at || !proxy__fault_applies(f, d)) continue;
    if (f->f.ms == 0) return 1;
    uint64_t until = f->added_ns + f->f.ms * 1000000ull;
    if (now < until) {
      *wake = until;
      return 1;
    }
  }
  return 0;
}

void stage_stall_removed(struct fault *f) {
  for (struct conn *c = f->p->conns; c; c = c->next) {
    struct dir *ds[2] = {&c->up, &c->down};
    for (int i = 0; i < 2; i++) {
      struct dir *d = ds[i];
      if (d->stall_until && d->stall_fault == f->id) {
        d->stall_until = 0;
        stall_event(d, f->id, "release", d->read_off, -1, 0);
      }
      pipe__drop_markers(d, f->id);
    }
  }
}
