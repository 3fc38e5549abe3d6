/* stage_cut: close (FIN) or reset (RST) a connection at an exact offset, or at a time.
 *
 * At the offset the direction stops taking input and queues a cut marker; the marker is
 * executed once every byte before it is written, so the client gets exactly those. */
#include <stdio.h>
#include <stdlib.h>

#include "netem_int.h"

/* Position of the span's first byte in the fault's unit, or -1 if the span has none. */
static int unit_pos(const struct fault *f, const struct span_meta *m, uint64_t *pos) {
  if (f->f.unit == NETEM_UNIT_BODY) {
    if (!m->is_body) return -1;
    *pos = m->body_off;
  } else {
    *pos = m->off;
  }
  return 0;
}

size_t stage_cut_limit(struct fault *f, struct dir *d, const struct span_meta *m, size_t len) {
  (void)d;
  uint64_t pos;
  if (!f->f.has_at || !proxy__fault_available(f) || unit_pos(f, m, &pos)) return SIZE_MAX;
  if (f->f.at < pos || f->f.at - pos >= len) return SIZE_MAX;
  return (size_t)(f->f.at - pos);
}

void stage_cut_fire(struct fault *f, struct dir *d, const struct span_meta *m) {
  struct qent *e = calloc(1, sizeof *e);
  if (!e) {
    conn__close(d->c, 1, "out of memory");
    return;
  }
  f->fired++;
  e->kind = Q_CUT;
  e->fault_id = f->id;
  e->fault_kind = f->f.kind;
  e->rst = f->f.rst;
  e->has_alert = f->f.has_alert;
  e->alert = f->f.alert;
  e->ev_off = m->off;
  e->ev_body_off = m->is_body ? (int64_t)m->body_off : -1;
  e->ev_msg = m->msg;
  d->cut = 1; /* nothing after the cut point is read or forwarded */
  conn__read_stop(d);
  pipe__push_marker(d, e);
}

/* The cut's event, after its alert (alert >= 0) is sent: action "alert" with the alert's
   name in detail (or why none could be sent, the connection then only cut). */
static void cut_event(struct dir *d, struct conn *c, const struct qent *m, int alert) {
  struct netem_event ev;
  char detail[200] = "";
  proxy__event_init(&ev, NETEM_EV_FAULT, d);
  ev.conn_id = c->id;
  ev.fault_id = m->fault_id;
  ev.fault = netem_fault_kind_name(m->fault_kind);
  ev.action = m->rst ? "rst" : "fin";
  if (alert >= 0 && c->tls) {
    char why[160];
    if (tls_conn__alert(c, alert, why, sizeof why) == 0) {
      ev.action = "alert";
      snprintf(detail, sizeof detail, "%s, then %s", netem_tls_alert_name(alert), m->rst ? "RST" : "FIN");
    } else {
      snprintf(detail, sizeof detail, "no %s alert sent: %s", netem_tls_alert_name(alert), why);
    }
    ev.detail = detail;
  }
  ev.offset = m->ev_off;
  ev.body_offset = m->ev_body_off;
  ev.msg_index = m->ev_msg;
  proxy__emit(c->p, &ev);
}

void stage_cut_exec(struct dir *d, const struct qent *m) {
  if (m->fault_id == 0) { /* not a fault: the close after a refused login (stage_login.c) */
    conn__cut(d->c, m->rst);
    return;
  }
  cut_event(d, d->c, m, m->has_alert ? m->alert : -1);
  conn__cut(d->c, m->rst);
}

void stage_cut_now(struct conn *c, struct fault *f) {
  struct qent m = {.fault_id = f->id, .fault_kind = f->f.kind, .rst = f->f.rst, .ev_off = c->down.read_off,
                   .ev_body_off = -1};
  cut_event(NULL, c, &m, f->f.has_alert ? f->f.alert : -1);
  f->fired++;
  /* a timed cut drops whatever is still queued: the link is gone now */
  conn__cut(c, f->f.rst);
}

static void timer_cb(uv_timer_t *t) {
  struct fault *f = t->data;
  for (struct conn *c = f->p->conns; c;) {
    struct conn *next = c->next;
    if (!c->closing && !c->cutting) stage_cut_now(c, f);
    c = next;
  }
}

void stage_cut_timer_start(struct fault *f) {
  f->timer = malloc(sizeof *f->timer);
  if (!f->timer) return;
  uv_timer_init(f->p->loop, f->timer);
  f->timer->data = f;
  f->p->handles++;
  proxy__timer_start_after(f->timer, timer_cb, f->f.ms);
}
