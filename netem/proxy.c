/* proxy: the public API of a proxy: open/close, faults, events, the body counter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appendf.h"
#include "netem_int.h"
#include "tcp_acked.h"

#define ERR(...) \
  do { if (err && errlen) snprintf(err, errlen, __VA_ARGS__); } while (0)

/* ---- events ---- */

void proxy__event_init(struct netem_event *ev, enum netem_event_kind kind, struct dir *d) {
  memset(ev, 0, sizeof *ev);
  ev->kind = kind;
  ev->body_offset = -1;
  ev->content_length = -1;
  ev->old_byte = ev->new_byte = -1;
  if (d) {
    ev->conn_id = d->c->id;
    ev->dir = d->which;
    ev->offset = d->read_off;
  }
}

void proxy__emit(struct netem_proxy *p, struct netem_event *ev) {
  if (!p->on_event || p->closing) return;
  ev->stream = p->name;
  p->on_event(ev, p->user);
}

static const char *kind_name(enum netem_event_kind k) {
  switch (k) {
  case NETEM_EV_CONN_OPEN: return "open";
  case NETEM_EV_CONN_CLOSE: return "close";
  case NETEM_EV_HTTP_REQUEST: return "request";
  case NETEM_EV_HTTP_RESPONSE: return "response";
  case NETEM_EV_BODY_PROGRESS: return "progress";
  case NETEM_EV_MQTT_PUBLISH: return "publish";
  case NETEM_EV_FAULT: return "fault";
  case NETEM_EV_FRAMING_ERROR: return "framing-error";
  case NETEM_EV_MQTT_LOGIN: return "login";
  case NETEM_EV_MQTT_LOGIN_DONE: return "login-done";
  case NETEM_EV_MQTT_SUBSCRIBE: return "subscribe";
  }
  return "?";
}

char *netem_event_format(const struct netem_event *ev, char *buf, size_t size) {
  size_t n = 0;
#define PUT(...) netem_appendf(buf, size, &n, __VA_ARGS__)
  if (size == 0) return buf;
  buf[0] = 0;
  PUT("%s %s conn=%llu", ev->stream ? ev->stream : "-", kind_name(ev->kind), (unsigned long long)ev->conn_id);
  if (ev->dir) PUT(" dir=%s", ev->dir == NETEM_DIR_UP ? "up" : "down");
  switch (ev->kind) {
  case NETEM_EV_CONN_OPEN: PUT(" peer=%s", ev->peer ? ev->peer : "?"); break;
  case NETEM_EV_CONN_CLOSE:
    PUT(" down_bytes=%llu up_bytes=%lld", (unsigned long long)ev->offset, (long long)ev->body_offset);
    break;
  case NETEM_EV_HTTP_REQUEST:
    PUT(" msg=%u %s %s", ev->msg_index, ev->method ? ev->method : "?", ev->path ? ev->path : "?");
    if (ev->range && *ev->range) PUT(" Range: %s", ev->range);
    break;
  case NETEM_EV_HTTP_RESPONSE:
    PUT(" msg=%u status=%d content_length=%lld", ev->msg_index, ev->status, (long long)ev->content_length);
    break;
  case NETEM_EV_BODY_PROGRESS: PUT(" delivered=%lld", (long long)ev->body_offset); break;
  case NETEM_EV_MQTT_PUBLISH:
    PUT(" offset=%llu len=%zu topic=%s", (unsigned long long)ev->offset, ev->packet_len, ev->topic ? ev->topic : "");
    break;
  case NETEM_EV_FAULT:
    PUT(" fault=%u:%s action=%s offset=%llu", ev->fault_id, ev->fault ? ev->fault : "?",
        ev->action ? ev->action : "?", (unsigned long long)ev->offset);
    if (ev->body_offset >= 0) PUT(" msg=%u body_offset=%lld", ev->msg_index, (long long)ev->body_offset);
    if (ev->old_byte >= 0) PUT(" old=0x%02x new=0x%02x", (unsigned)ev->old_byte, (unsigned)ev->new_byte);
    if (ev->topic) PUT(" topic=%s", ev->topic);
    break;
  case NETEM_EV_MQTT_LOGIN:
    PUT(" client_id=%s username=%.*s", ev->client_id ? ev->client_id : "", (int)ev->username_len,
        ev->username ? ev->username : "");
    break;
  case NETEM_EV_MQTT_LOGIN_DONE:
    PUT(" %s", ev->action ? ev->action : "?");
    if (ev->status) PUT(" code=%d", ev->status);
    break;
  case NETEM_EV_MQTT_SUBSCRIBE: PUT(" topics=%s", ev->topic ? ev->topic : ""); break;
  case NETEM_EV_FRAMING_ERROR: break;
  }
  if (ev->detail) PUT(" (%s)", ev->detail);
#undef PUT
  return buf;
}

/* ---- helpers for the stages ---- */

uint64_t proxy__rng_seed(const struct netem_proxy *p, uint64_t a, uint64_t b) {
  uint64_t s = p->seed ^ (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full);
  (void)rng_next(&s);
  return s;
}

void proxy__timer_start_after(uv_timer_t *t, uv_timer_cb cb, uint64_t ms) {
  /* The loop's clock is cached at the start of its turn and counts whole ms (floored):
     refreshed, plus 1 ms, the timer never fires before ms have really passed. */
  uv_update_time(t->loop);
  uv_timer_start(t, cb, ms + 1, 0);
}

int proxy__fault_available(const struct fault *f) { return f->times == 0 || f->fired < f->times; }

int proxy__fault_applies(const struct fault *f, const struct dir *d) { return (f->dir & d->which) != 0; }

int proxy__fault_queued(const struct fault *f) {
  return (f->f.kind == NETEM_FAULT_CUT || f->f.kind == NETEM_FAULT_STALL) && f->f.has_at && f->times != 0;
}

/* ---- body counter and watches ---- */

static void check_watches(struct netem_proxy *p) {
  for (;;) {
    struct watch **wp = &p->watches, *w = NULL;
    for (; *wp; wp = &(*wp)->next)
      if (p->body_delivered >= (*wp)->threshold) {
        w = *wp;
        *wp = w->next;
        break;
      }
    if (!w) return;
    /* unlinked first: the callback may add or remove watches, or close the proxy */
    w->cb(p, p->body_delivered, w->user);
    free(w);
    if (p->closing) return;
  }
}

void proxy__body_delivered(struct netem_proxy *p, uint64_t n) {
  p->body_delivered += n;
  if (p->progress_step && p->body_delivered >= p->next_progress) {
    struct netem_event ev;
    proxy__event_init(&ev, NETEM_EV_BODY_PROGRESS, NULL);
    ev.body_offset = (int64_t)p->body_delivered;
    proxy__emit(p, &ev);
    p->next_progress = (p->body_delivered / p->progress_step + 1) * p->progress_step;
  }
  if (p->watches) check_watches(p);
}

void proxy__body_unacked(struct netem_proxy *p, struct conn *c) {
  int fd;
  uint64_t acked;
  /* TCP_INFO counts ciphertext on a TLS connection: no plaintext offset to compare with */
  if (!c->body_counted || c->tls || uv_fileno((uv_handle_t *)&c->client, &fd) != 0 || tcp__bytes_acked(fd, &acked) != 0)
    return;
  if (acked >= c->down_written) return;
  /* the unacknowledged bytes are the last ones written: body, unless a head came after */
  uint64_t lost = c->down_written - acked;
  if (lost > c->body_counted) lost = c->body_counted;
  if (lost > p->body_delivered) lost = p->body_delivered;
  p->body_delivered -= lost;
  c->body_counted -= lost;
}

uint64_t netem_proxy_body_delivered(const netem_proxy *p) { return p->body_delivered; }

void netem_proxy_reset_body_delivered(netem_proxy *p) {
  p->body_delivered = 0;
  p->next_progress = p->progress_step;
}

static void watch_timer_cb(uv_timer_t *t) { check_watches(t->data); }

int netem_proxy_watch_body(netem_proxy *p, uint64_t threshold, netem_watch_cb cb, void *user, uint32_t *id) {
  if (!p || !cb || p->closing) return UV_EINVAL;
  struct watch *w = calloc(1, sizeof *w);
  if (!w) return UV_ENOMEM;
  w->id = ++p->next_watch_id;
  w->threshold = threshold;
  w->cb = cb;
  w->user = user;
  w->next = p->watches;
  p->watches = w;
  if (id) *id = w->id;
  /* reached already: call from the loop, never from inside this call */
  if (p->body_delivered >= threshold) uv_timer_start(&p->watch_timer, watch_timer_cb, 0, 0);
  return 0;
}

int netem_proxy_unwatch(netem_proxy *p, uint32_t id) {
  for (struct watch **wp = &p->watches; *wp; wp = &(*wp)->next)
    if ((*wp)->id == id) {
      struct watch *w = *wp;
      *wp = w->next;
      free(w);
      return 0;
    }
  return UV_ENOENT;
}

size_t netem_proxy_conn_count(const netem_proxy *p) { return p->nconns; }
uint64_t netem_proxy_spliced(const netem_proxy *p) { return p->spliced; }
int netem_proxy_port(const netem_proxy *p) { return p->port; }

/* ---- open / close ---- */

static void on_connection(uv_stream_t *server, int status) {
  struct netem_proxy *p = server->data;
  if (status < 0 || p->closing) return;
  conn__accept(p);
}

static int resolve(uv_loop_t *loop, const char *host, int port, struct sockaddr_storage *out) {
  memset(out, 0, sizeof *out);
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)out) == 0) return 0;
  if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) == 0) return 0;
  uv_getaddrinfo_t req;
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = uv_getaddrinfo(loop, &req, NULL, host, NULL, &hints); /* NULL cb: synchronous */
  if (rc) return rc;
  rc = UV_EAI_NONAME;
  for (struct addrinfo *ai = req.addrinfo; ai; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
      memcpy(out, ai->ai_addr, ai->ai_addrlen);
      if (ai->ai_family == AF_INET) ((struct sockaddr_in *)out)->sin_port = htons((uint16_t)port);
      else ((struct sockaddr_in6 *)out)->sin6_port = htons((uint16_t)port);
      rc = 0;
      break;
    }
  }
  uv_freeaddrinfo(req.addrinfo);
  return rc;
}

static void proxy_free(struct netem_proxy *p) {
  void (*done)(void *) = p->close_done;
  void *user = p->close_user;
  tls_ctx__free(p->tls);
  tls_ctx__free(p->up_tls);
  free(p->name);
  free(p);
  if (done) done(user);
}

void proxy__handle_closed(struct netem_proxy *p) {
  if (--p->handles == 0 && p->closing) proxy_free(p);
}

static void on_handle_closed(uv_handle_t *h) { proxy__handle_closed(h->data); }

int netem_proxy_open(uv_loop_t *loop, const struct netem_proxy_opts *o, netem_proxy **out, char *err,
                     size_t errlen) {
  if (!loop || !o || !out || !o->listen_host || !o->upstream_host || o->listen_port < 0 ||
      o->listen_port > 65535 || o->upstream_port <= 0 || o->upstream_port > 65535 ||
      o->view < NETEM_VIEW_RAW || o->view > NETEM_VIEW_MQTT) {
    ERR("netem_proxy_open: bad arguments (need listen host/port, upstream host/port)");
    return UV_EINVAL;
  }
  struct sockaddr_storage listen_addr;
  memset(&listen_addr, 0, sizeof listen_addr);
  if (uv_ip4_addr(o->listen_host, o->listen_port, (struct sockaddr_in *)&listen_addr) &&
      uv_ip6_addr(o->listen_host, o->listen_port, (struct sockaddr_in6 *)&listen_addr)) {
    ERR("netem_proxy_open: listen address '%s' is not a numeric IP", o->listen_host);
    return UV_EINVAL;
  }
  struct netem_proxy *p = calloc(1, sizeof *p);
  if (!p) return UV_ENOMEM;
  p->name = strdup(o->name ? o->name : "netem");
  if (!p->name) {
    free(p);
    return UV_ENOMEM;
  }
  int rc = resolve(loop, o->upstream_host, o->upstream_port, &p->upstream);
  if (rc) {
    ERR("netem_proxy_open %s: upstream '%s': %s", p->name, o->upstream_host, uv_strerror(rc));
    free(p->name);
    free(p);
    return rc;
  }
  if ((o->tls_cert && !(p->tls = tls_ctx__new(o->tls_cert, o->tls_key ? o->tls_key : o->tls_cert, err, errlen))) ||
      (o->upstream_tls && !(p->up_tls = tls_ctx__new_client(o->upstream_ca, o->upstream_tls_name ? o->upstream_tls_name
                                                                                                 : o->upstream_host,
                                                              err, errlen)))) {
    tls_ctx__free(p->tls);
    free(p->name);
    free(p);
    return UV_EINVAL;
  }
  p->loop = loop;
  p->view = o->view;
  p->seed = o->seed;
  p->on_event = o->on_event;
  p->user = o->user;
  p->high_water = o->high_water ? o->high_water : 1024 * 1024;
  p->progress_step = o->progress_step;
  p->login_hold = o->login_hold && o->view == NETEM_VIEW_MQTT;
  p->login_timeout_ms = o->login_timeout_ms ? o->login_timeout_ms : 5000;
  p->next_progress = o->progress_step;
  p->splice_ok = !o->no_splice && !p->tls && !p->up_tls && splice__allowed(); /* TLS: every byte is copied */
  uv_tcp_init(loop, &p->listener);
  p->listener.data = p;
  uv_timer_init(loop, &p->watch_timer);
  p->watch_timer.data = p;
  p->handles = 2;
  rc = uv_tcp_bind(&p->listener, (struct sockaddr *)&listen_addr, 0);
  if (!rc) rc = uv_listen((uv_stream_t *)&p->listener, 256, on_connection);
  if (rc) {
    ERR("netem_proxy_open %s: listen on %s:%d: %s", p->name, o->listen_host, o->listen_port, uv_strerror(rc));
    /* the handles are closed on the loop; the proxy is freed after their callbacks */
    p->closing = 1;
    p->on_event = NULL;
    uv_close((uv_handle_t *)&p->listener, on_handle_closed);
    uv_close((uv_handle_t *)&p->watch_timer, on_handle_closed);
    return rc;
  }
  struct sockaddr_storage bound;
  int blen = sizeof bound;
  uv_tcp_getsockname(&p->listener, (struct sockaddr *)&bound, &blen);
  p->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
  *out = p;
  return 0;
}

/* ---- faults ---- */

static void fault_timer_closed(uv_handle_t *h) {
  struct fault *f = h->data;
  struct netem_proxy *p = f->p;
  free(f->timer);
  free(f);
  proxy__handle_closed(p);
}

static void fault_free(struct fault *f) {
  if (f->timer) {
    uv_close((uv_handle_t *)f->timer, fault_timer_closed);
  } else {
    free(f);
  }
}

int netem_fault_add(netem_proxy *p, const struct netem_fault *nf, uint32_t *id, char *err, size_t errlen) {
  if (!p || !nf || p->closing) {
    ERR("netem_fault_add: no proxy");
    return UV_EINVAL;
  }
  int rc = netem_fault_check(nf, err, errlen);
  if (rc) return rc;
  int mqtt = nf->kind >= NETEM_FAULT_MQTT_DROP;
  if (mqtt && p->view != NETEM_VIEW_MQTT) {
    ERR("netem_fault_add %s: %s needs the MQTT view", p->name, netem_fault_kind_name(nf->kind));
    return UV_EINVAL;
  }
  if (nf->unit == NETEM_UNIT_BODY && p->view != NETEM_VIEW_HTTP) {
    ERR("netem_fault_add %s: body offsets need the HTTP view", p->name);
    return UV_EINVAL;
  }
  if (nf->has_alert && !p->tls) {
    ERR("netem_fault_add %s: a TLS alert needs a proxy that terminates TLS (lab tls, netem --tls-cert)", p->name);
    return UV_EINVAL;
  }
  struct fault *f = calloc(1, sizeof *f);
  if (!f) return UV_ENOMEM;
  f->p = p;
  f->id = ++p->next_fault_id;
  f->f = *nf;
  f->dir = netem_fault_dir(nf);
  f->times = netem_fault_times(nf);
  f->added_ns = uv_hrtime();
  /* appended: faults act in the order they were added */
  struct fault **fp = &p->faults;
  while (*fp) fp = &(*fp)->next;
  *fp = f;
  p->nfaults++;
  if (id) *id = f->id;
  struct netem_event ev;
  char desc[512];
  proxy__event_init(&ev, NETEM_EV_FAULT, NULL);
  ev.fault_id = f->id;
  ev.fault = netem_fault_kind_name(nf->kind);
  ev.action = "added";
  ev.detail = netem_fault_describe(nf, desc, sizeof desc);
  proxy__emit(p, &ev);
  if (nf->kind == NETEM_FAULT_CUT && !nf->has_at) stage_cut_timer_start(f);
  conn__pump_all(p); /* a throttle or stall now applies to what is queued */
  return 0;
}

int netem_fault_add_spec(netem_proxy *p, const char *spec, uint32_t *id, char *err, size_t errlen) {
  struct netem_fault f;
  int rc = netem_fault_parse(spec, &f, err, errlen);
  if (rc) return rc;
  return netem_fault_add(p, &f, id, err, errlen);
}

static void fault_unlinked(struct netem_proxy *p, struct fault *f) {
  switch (f->f.kind) {
  case NETEM_FAULT_STALL: stage_stall_removed(f); break;
  case NETEM_FAULT_THROTTLE: stage_throttle_removed(p); break;
  case NETEM_FAULT_LATENCY: stage_latency_removed(p); break;
  case NETEM_FAULT_MQTT_DELAY:
    for (struct conn *c = p->conns; c; c = c->next) stage_mqtt_flush_delayed(c, f->id);
    break;
  default: break;
  }
  struct netem_event ev;
  proxy__event_init(&ev, NETEM_EV_FAULT, NULL);
  ev.fault_id = f->id;
  ev.fault = netem_fault_kind_name(f->f.kind);
  ev.action = "removed";
  proxy__emit(p, &ev);
  fault_free(f);
}

int netem_fault_remove(netem_proxy *p, uint32_t id) {
  for (struct fault **fp = &p->faults; *fp; fp = &(*fp)->next)
    if ((*fp)->id == id) {
      struct fault *f = *fp;
      *fp = f->next;
      p->nfaults--;
      fault_unlinked(p, f);
      conn__pump_all(p);
      return 0;
    }
  return UV_ENOENT;
}

void netem_fault_clear(netem_proxy *p) {
  while (p->faults) {
    struct fault *f = p->faults;
    p->faults = f->next;
    p->nfaults--;
    fault_unlinked(p, f);
  }
  conn__pump_all(p);
}

size_t netem_fault_count(const netem_proxy *p) { return p->nfaults; }

size_t netem_proxy_reset(netem_proxy *p) {
  size_t n = 0;
  while (p->conns && !p->closing) {
    struct conn *c = p->conns;
    struct netem_event ev;
    proxy__event_init(&ev, NETEM_EV_FAULT, NULL);
    ev.conn_id = c->id;
    ev.fault = "reset";
    ev.action = "rst";
    ev.offset = c->down.read_off;
    proxy__emit(p, &ev);
    conn__close(c, 1, "reset");
    n++;
  }
  return n;
}

void netem_proxy_close(netem_proxy *p, void (*done)(void *user), void *user) {
  if (!p || p->closing) return;
  netem_fault_clear(p);
  p->closing = 1;
  p->on_event = NULL;
  p->close_done = done;
  p->close_user = user;
  while (p->watches) {
    struct watch *w = p->watches;
    p->watches = w->next;
    free(w);
  }
  while (p->conns) conn__close(p->conns, 1, "proxy closed");
  uv_close((uv_handle_t *)&p->listener, on_handle_closed);
  uv_close((uv_handle_t *)&p->watch_timer, on_handle_closed);
}
