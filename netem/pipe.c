/* pipe: the byte pipeline of one direction: view -> position stages -> queue -> pump. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netem_int.h"

struct chunk *chunk_new(size_t size) {
  struct chunk *c = malloc(sizeof *c + size);
  if (!c) return NULL;
  c->refs = 1;
  c->size = size;
  return c;
}

void chunk_unref(struct chunk *c) {
  if (c && --c->refs == 0) free(c);
}

struct wreq {
  uv_write_t req;
  struct dir *d;
  struct chunk *ch;
  size_t len;
  int is_body;
};

static void timer_cb(uv_timer_t *t) {
  /* the timer's data is the conn (conn.c closes it); find the dir around it */
  struct dir *d = (struct dir *)((char *)t - offsetof(struct dir, timer));
  d->timer_due = 0;
  pipe__pump(d);
}

int pipe__init(struct dir *d, struct conn *c, enum netem_dir which) {
  struct netem_proxy *p = c->p;
  memset(d, 0, sizeof *d);
  d->c = c;
  d->which = which;
  d->src = which == NETEM_DIR_UP ? &c->client : &c->upstream;
  d->dst = which == NETEM_DIR_UP ? &c->upstream : &c->client;
  d->cur_cl = -1;
  d->rng = proxy__rng_seed(p, c->id, (uint64_t)which);
  uv_timer_init(p->loop, &d->timer);
  d->timer.data = c; /* closed by conn.c whose close callback expects the conn */
  if (p->view == NETEM_VIEW_HTTP) {
    d->hv = http_view_new(which == NETEM_DIR_UP ? HTTP_VIEW_REQUESTS : HTTP_VIEW_RESPONSES);
    if (!d->hv) return UV_ENOMEM;
  } else if (p->view == NETEM_VIEW_MQTT) {
    d->mf = mqtt_frame_new(64u << 20);
    if (!d->mf) return UV_ENOMEM;
  }
  return 0;
}

void pipe__free(struct dir *d) {
  splice__free(d);
  http_view_free(d->hv);
  mqtt_frame_free(d->mf);
  d->hv = NULL;
  d->mf = NULL;
  while (d->qhead) {
    struct qent *e = d->qhead;
    d->qhead = e->next;
    chunk_unref(e->chunk);
    free(e);
  }
  d->qtail = NULL;
}

void pipe__arm(struct dir *d, uint64_t due) {
  if (d->c->closing) return;
  if (d->timer_due && d->timer_due <= due) return;
  uint64_t now = uv_hrtime();
  uint64_t ms = due > now ? (due - now + 999999) / 1000000 : 0;
  d->timer_due = due;
  uv_timer_start(&d->timer, timer_cb, ms, 0);
}

static void enqueue(struct dir *d, struct qent *e) {
  if (d->qtail) d->qtail->next = e;
  else d->qhead = e;
  d->qtail = e;
  if (e->kind == Q_DATA) d->queued += e->len;
}

void pipe__push_marker(struct dir *d, struct qent *m) { enqueue(d, m); }

int pipe__requeue(struct dir *d, struct chunk *ch, size_t len, int is_body) {
  struct qent *e = calloc(1, sizeof *e);
  if (!e) return UV_ENOMEM;
  e->kind = Q_DATA;
  e->chunk = ch;
  ch->refs++;
  e->p = ch->data;
  e->len = len;
  e->is_body = is_body;
  enqueue(d, e);
  return 0;
}

void pipe__drop_markers(struct dir *d, uint32_t fault_id) {
  struct qent **ep = &d->qhead, *last = NULL;
  while (*ep) {
    struct qent *e = *ep;
    if (e->kind == Q_STALL && e->fault_id == fault_id) {
      *ep = e->next;
      free(e);
    } else {
      last = e;
      ep = &e->next;
    }
  }
  d->qtail = last;
}

/* Bytes that pass the position stages: corrupt in place, count for flap, queue. */
static void emit(struct dir *d, struct chunk *ch, uint8_t *data, size_t n, const struct span_meta *m) {
  struct netem_proxy *p = d->c->p;
  for (struct fault *f = p->faults; f; f = f->next) {
    if (!proxy__fault_applies(f, d)) continue;
    if (f->f.kind == NETEM_FAULT_CORRUPT) stage_corrupt_apply(f, d, data, n, m);
    else if (f->f.kind == NETEM_FAULT_FLAP) stage_flap_count(f, n);
  }
  struct qent *e = calloc(1, sizeof *e);
  if (!e) {
    conn__close(d->c, 1, "out of memory");
    return;
  }
  e->kind = Q_DATA;
  e->chunk = ch;
  ch->refs++;
  e->p = data;
  e->len = n;
  e->is_body = m->is_body;
  e->not_before = stage_latency_not_before(d, uv_hrtime());
  enqueue(d, e);
}

/* The position faults that act a limited number of times (cut, stall at an offset) take
   turns in the order they were added: only the first one with acts left is armed, and it
   acts on a later response (body offsets) or connection (stream offsets) than the place
   the one before it acted on. So three cuts added in a row make three successive breaks,
   whatever their offsets. */
static int seq_turn(const struct netem_proxy *p, const struct fault *f, const struct dir *d,
                    const struct span_meta *m, int *seen) {
  if (!proxy__fault_queued(f)) return 1;
  if (!proxy__fault_available(f)) return 0;
  if ((*seen)++) return 0; /* an earlier one still waits for its place */
  if (!p->seq_has || p->seq_conn != d->c->id || p->seq_dir != d->which) return 1;
  return f->f.unit == NETEM_UNIT_BODY && m->is_body && m->msg != p->seq_msg;
}

static void seq_acted(struct netem_proxy *p, const struct fault *f, const struct dir *d, const struct span_meta *m) {
  if (!proxy__fault_queued(f)) return;
  p->seq_has = 1;
  p->seq_conn = d->c->id;
  p->seq_dir = d->which;
  p->seq_msg = m->msg;
}

void pipe__bytes(struct dir *d, struct chunk *ch, uint8_t *data, size_t len, struct span_meta m) {
  struct netem_proxy *p = d->c->p;
  while (len > 0 && !d->cut && !d->c->closing && !d->c->cutting) {
    size_t take = len;
    struct fault *trig = NULL;
    int seen = 0;
    for (struct fault *f = p->faults; f; f = f->next) {
      if (!proxy__fault_applies(f, d) || !seq_turn(p, f, d, &m, &seen)) continue;
      size_t lim;
      switch (f->f.kind) {
      case NETEM_FAULT_CUT: lim = stage_cut_limit(f, d, &m, len); break;
      case NETEM_FAULT_STALL: lim = stage_stall_limit(f, d, &m, len); break;
      case NETEM_FAULT_FLAP: lim = stage_flap_limit(f, d, len); break;
      default: continue;
      }
      if (lim != SIZE_MAX && (lim < take || (lim == take && !trig))) {
        take = lim;
        trig = f;
      }
    }
    if (take > 0) {
      emit(d, ch, data, take, &m);
      data += take;
      len -= take;
      m.off += take;
      if (m.is_body) m.body_off += take;
    }
    if (trig) {
      seq_acted(p, trig, d, &m);
      switch (trig->f.kind) {
      case NETEM_FAULT_CUT: stage_cut_fire(trig, d, &m); break;
      case NETEM_FAULT_STALL: stage_stall_fire(trig, d, &m); break;
      case NETEM_FAULT_FLAP: stage_flap_fire(trig, d, &m); break;
      default: break;
      }
    }
  }
}

static void framing_error(struct dir *d, const char *what, uint64_t off) {
  struct netem_event ev;
  proxy__event_init(&ev, NETEM_EV_FRAMING_ERROR, d);
  ev.offset = off;
  ev.detail = what;
  proxy__emit(d->c->p, &ev);
}

static void http_head_event(struct dir *d, const struct http_seg *seg) {
  const struct http_head *h = http_view_head(d->hv);
  struct netem_event ev;
  if (d->which == NETEM_DIR_UP) {
    proxy__event_init(&ev, NETEM_EV_HTTP_REQUEST, d);
    ev.method = h->method;
    ev.path = h->path;
    ev.range = h->range[0] ? h->range : NULL;
    http_view_push_request(d->c->down.hv, strcmp(h->method, "HEAD") == 0);
  } else {
    proxy__event_init(&ev, NETEM_EV_HTTP_RESPONSE, d);
    ev.status = h->status;
    ev.content_length = h->content_length;
    ev.detail = h->chunked ? "chunked" : h->no_body ? "no body" : NULL;
    d->cur_cl = h->no_body ? 0 : h->chunked ? -1 : h->content_length;
  }
  ev.offset = seg->off + seg->len;
  ev.msg_index = seg->msg;
  proxy__emit(d->c->p, &ev);
}

void pipe__input(struct dir *d, struct chunk *ch, uint8_t *data, size_t len) {
  struct conn *c = d->c;
  struct netem_proxy *p = c->p;
  uint64_t base = d->read_off;
  uint8_t *start = data;
  d->read_off += len;
  if (d->hv && !d->raw) {
    while (len > 0 && !d->cut && !c->closing && !c->cutting) {
      struct http_seg seg;
      size_t n = http_view_step(d->hv, data, len, &seg);
      struct span_meta m = {seg.off, seg.kind == HTTP_SEG_BODY, seg.body_off, seg.msg, d->cur_cl};
      pipe__bytes(d, ch, data, n, m);
      if (seg.events & HTTP_EV_ERROR) framing_error(d, http_view_error(d->hv), seg.off);
      if ((seg.events & HTTP_EV_HEAD) && !c->closing) http_head_event(d, &seg);
      data += n;
      len -= n;
    }
  } else if (d->mf && !d->raw) {
    while (len > 0 && !d->cut && !c->closing && !c->cutting) {
      struct mqtt_packet pkt;
      size_t used;
      int r = mqtt_frame_feed(d->mf, data, len, &used, &pkt);
      data += used;
      len -= used;
      if (r == 1) {
        stage_mqtt_packet(d, &pkt);
      } else if (r < 0) {
        framing_error(d, mqtt_frame_error(d->mf), pkt.len ? pkt.off : base + (uint64_t)(data - start));
        d->raw = 1;
        if (pkt.len) { /* what the framer held goes on unchanged */
          struct chunk *copy = chunk_new(pkt.len);
          if (!copy) {
            conn__close(c, 1, "out of memory");
            return;
          }
          memcpy(copy->data, pkt.data, pkt.len);
          struct span_meta m = {pkt.off, 0, 0, 0, -1};
          pipe__bytes(d, copy, copy->data, pkt.len, m);
          chunk_unref(copy);
        }
        break;
      } else {
        break;
      }
    }
    if (d->raw && len > 0) {
      struct span_meta m = {base + (uint64_t)(data - start), 0, 0, 0, -1};
      pipe__bytes(d, ch, data, len, m);
    }
  } else {
    struct span_meta m = {base, 0, 0, 0, -1};
    pipe__bytes(d, ch, data, len, m);
  }
  if (c->closing) return;
  if (d->queued + d->inflight > p->high_water || splice__ready(d)) conn__read_stop(d);
  pipe__pump(d);
}

void pipe__eof(struct dir *d) {
  d->eof = 1;
  conn__read_stop(d);
  if (d->hv && !d->raw && http_view_eof(d->hv) < 0) framing_error(d, http_view_error(d->hv), d->read_off);
  if (d->mf && !d->raw) {
    struct mqtt_packet pkt;
    if (mqtt_frame_eof(d->mf, &pkt) < 0) {
      framing_error(d, mqtt_frame_error(d->mf), pkt.off);
      struct chunk *copy = pkt.len ? chunk_new(pkt.len) : NULL;
      if (copy) {
        memcpy(copy->data, pkt.data, pkt.len);
        struct span_meta m = {pkt.off, 0, 0, 0, -1};
        pipe__bytes(d, copy, copy->data, pkt.len, m);
        chunk_unref(copy);
      }
    }
  }
  if (!d->c->closing) pipe__pump(d);
}

static void shutdown_cb(uv_shutdown_t *req, int status) {
  struct dir *d = req->data;
  struct conn *c = d->c;
  if (c->closing || c->cutting) return;
  d->shut = 2;
  if (status < 0 && conn__tls_to(d)) {
    /* a TLS peer that closes at once after its last message (a broker after DISCONNECT)
       answers our close_notify with an RST: it had gone, nothing was lost */
    conn__close(c, 0, "closed (the TLS peer had closed before our close_notify)");
    return;
  }
  if (status < 0) {
    conn__close(c, 1, "shutdown failed");
    return;
  }
  if (c->up.shut == 2 && c->down.shut == 2) conn__close(c, 0, "closed by both peers");
}

static void write_cb(uv_write_t *req, int status) {
  struct wreq *w = (struct wreq *)req;
  struct dir *d = w->d;
  struct conn *c = d->c;
  struct netem_proxy *p = c->p;
  d->inflight -= w->len;
  chunk_unref(w->ch);
  size_t len = w->len;
  int body = w->is_body && d->which == NETEM_DIR_DOWN;
  free(w);
  if (status < 0) {
    if (!c->closing) {
      char why[96];
      snprintf(why, sizeof why, "write to %s: %s", d->which == NETEM_DIR_UP ? "upstream" : "client",
               uv_strerror(status));
      conn__close(c, 1, why);
    }
    return;
  }
  if (d->which == NETEM_DIR_DOWN) c->down_written += len;
  if (body) c->body_counted += len;
  if (body && !p->closing) proxy__body_delivered(p, len); /* may run a watch callback */
  if (c->closing) return;
  if (!d->reading && !d->eof && !d->cut && !c->cutting && d->queued + d->inflight <= p->high_water / 2)
    conn__read_start(d);
  pipe__pump(d);
}

static int write_slice(struct dir *d, struct qent *e, size_t n) {
  struct wreq *w = malloc(sizeof *w);
  if (!w) return UV_ENOMEM;
  w->d = d;
  w->ch = e->chunk;
  w->len = n;
  w->is_body = e->is_body;
  e->chunk->refs++;
  uv_buf_t b = uv_buf_init((char *)e->p, (unsigned)n);
  struct tls_conn *t = conn__tls_to(d);
  int rc = t ? tls_conn__write(t, &w->req, &b, write_cb) : uv_write(&w->req, (uv_stream_t *)d->dst, &b, 1, write_cb);
  if (rc) {
    chunk_unref(w->ch);
    free(w);
    return rc;
  }
  d->queued -= n;
  d->inflight += n;
  return 0;
}

static void pop(struct dir *d) {
  struct qent *e = d->qhead;
  d->qhead = e->next;
  if (!d->qhead) d->qtail = NULL;
}

void pipe__pump(struct dir *d) {
  struct conn *c = d->c;
  if (d->sp.on) {
    if (!c->p->faults) return; /* the zero-copy path moves the bytes */
    splice__leave(d);          /* a fault: from now on the bytes pass the stages */
  }
  if (c->closing || !c->connected || c->cutting) return;
  /* towards a TLS peer whose handshake is not done (the device's, while the upstream's is
     already): the bytes wait (its handshake pumps) */
  if (conn__tls_to(d) && !tls_conn__ready(conn__tls_to(d))) return;
  uint64_t now = uv_hrtime();
  struct qent *e;
  while ((e = d->qhead)) {
    uint64_t wake = 0;
    if (stage_stall_blocked(d, now, &wake)) {
      if (wake) pipe__arm(d, wake);
      return;
    }
    if (e->kind == Q_STALL) {
      pop(d);
      stage_stall_begin(d, e, now);
      free(e);
      continue;
    }
    if (e->kind == Q_CUT) {
      if (d->inflight) return; /* write_cb pumps again */
      pop(d);
      stage_cut_exec(d, e);
      free(e);
      return;
    }
    if (e->not_before > now) {
      pipe__arm(d, e->not_before);
      return;
    }
    size_t n = stage_throttle_slice(d, now, e->len, &wake);
    if (n == 0) {
      pipe__arm(d, wake);
      return;
    }
    int rc = write_slice(d, e, n);
    if (rc) {
      char why[96];
      snprintf(why, sizeof why, "write to %s: %s", d->which == NETEM_DIR_UP ? "upstream" : "client", uv_strerror(rc));
      conn__close(c, 1, why);
      return;
    }
    if (n == e->len) {
      pop(d);
      chunk_unref(e->chunk);
      free(e);
    } else {
      e->p += n;
      e->len -= n;
    }
  }
  if (d->eof && !d->shut && d->inflight == 0) {
    d->shut = 1;
    if (conn__tls_to(d)) tls_conn__close_notify(conn__tls_to(d));
    d->shut_req.data = d;
    if (uv_shutdown(&d->shut_req, (uv_stream_t *)d->dst, shutdown_cb) != 0) {
      d->shut = 2;
      if (c->up.shut == 2 && c->down.shut == 2) conn__close(c, 0, "closed by both peers");
    }
  }
  if (!d->qhead && !d->inflight) splice__try(d);
}
