/* conn: one proxied connection: accept, connect upstream, read, half-close, close. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>

#include "netem_int.h"

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  struct chunk *ch = chunk_new(NETEM_READ_SIZE);
  /* the chunk header sits right before the data: on_read finds it back from buf->base */
  *buf = uv_buf_init(ch ? (char *)ch->data : NULL, ch ? NETEM_READ_SIZE : 0);
}

static struct chunk *chunk_of(const uv_buf_t *buf) {
  return (struct chunk *)((char *)buf->base - offsetof(struct chunk, data));
}

static void conn_free_if_done(struct conn *c) {
  if (c->handles > 0) return;
  struct netem_proxy *p = c->p;
  pipe__free(&c->up);
  pipe__free(&c->down);
  tls_conn__free(c->tls);
  tls_conn__free(c->utls);
  free(c);
  proxy__handle_closed(p);
}

static void on_closed(uv_handle_t *h) {
  struct conn *c = h->data;
  c->handles--;
  conn_free_if_done(c);
}

static struct dir *dir_of_src(struct conn *c, uv_stream_t *s) {
  return (uv_tcp_t *)s == &c->client ? &c->up : &c->down;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct conn *c = s->data;
  struct dir *d = dir_of_src(c, s);
  struct chunk *ch = buf->base ? chunk_of(buf) : NULL;
  struct tls_conn *t = d->which == NETEM_DIR_UP ? c->tls : c->utls; /* the session it reads */
  if (nread > 0 && !c->closing && !d->cut && !c->cutting) {
    if (t) tls_conn__input(t, (uint8_t *)buf->base, (size_t)nread);
    else pipe__input(d, ch, (uint8_t *)buf->base, (size_t)nread);
  } else if (nread == UV_EOF && !c->closing) {
    if (c->cutting && !c->cut_rst) {
      conn__close(c, 0, "cut (FIN) done"); /* lingering close: the client closed too */
    } else if (t && !tls_conn__ready(t)) {
      conn__close(c, 0, t == c->tls ? "tls handshake: the client closed the connection (did it refuse the certificate?)"
                                    : "upstream tls handshake: the upstream closed the connection (does it speak TLS?)");
    } else if (!c->cutting) {
      pipe__eof(d);
    }
  } else if (nread < 0 && !c->closing) {
    char why[96];
    snprintf(why, sizeof why, "%s: %s", d->which == NETEM_DIR_UP ? "client" : "upstream", uv_strerror((int)nread));
    conn__close(c, nread == UV_ECONNRESET, why);
  }
  if (ch) chunk_unref(ch);
}

void conn__read_start(struct dir *d) {
  if (d->reading || d->eof || d->c->closing) return;
  if (uv_read_start((uv_stream_t *)d->src, alloc_cb, on_read) == 0) d->reading = 1;
}

void conn__read_stop(struct dir *d) {
  if (!d->reading) return;
  uv_read_stop((uv_stream_t *)d->src);
  d->reading = 0;
}

static void on_connect(uv_connect_t *req, int status) {
  struct conn *c = req->data;
  if (c->closing) return;
  if (status < 0) {
    char why[96];
    snprintf(why, sizeof why, "upstream connect: %s", uv_strerror(status));
    conn__close(c, 1, why);
    return;
  }
  uv_tcp_nodelay(&c->upstream, 1);
  if (c->p->up_tls) {
    int rc = tls_conn__start_upstream(c); /* conn__upstream_ready once its handshake is done */
    if (rc && !c->closing) conn__close(c, 1, "upstream tls: out of memory");
    return;
  }
  conn__upstream_ready(c);
}

void conn__upstream_ready(struct conn *c) {
  c->connected = 1;
  if (c->tls) {
    tls_conn__connected(c);
    return;
  }
  conn__read_start(&c->up);
  conn__read_start(&c->down);
  if (c->utls) pipe__pump(&c->up); /* what the client sent during the upstream's handshake */
}

struct tls_conn *conn__tls_to(const struct dir *d) { return d->which == NETEM_DIR_DOWN ? d->c->tls : d->c->utls; }

static void peer_name(uv_tcp_t *t, char *buf, size_t size) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  char ip[64] = "?";
  int port = 0;
  if (uv_tcp_getpeername(t, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET6) {
      uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    } else {
      uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
  }
  snprintf(buf, size, "%s:%d", ip, port);
}

void conn__accept(struct netem_proxy *p) {
  struct conn *c = calloc(1, sizeof *c);
  if (!c) return;
  c->p = p;
  uv_tcp_init(p->loop, &c->client);
  c->client.data = c;
  c->handles = 1;
  p->handles++;
  if (uv_accept((uv_stream_t *)&p->listener, (uv_stream_t *)&c->client) != 0) {
    c->closing = 1;
    uv_close((uv_handle_t *)&c->client, on_closed);
    return;
  }
  uv_tcp_init(p->loop, &c->upstream);
  c->upstream.data = c;
  uv_timer_init(p->loop, &c->cut_timer);
  c->cut_timer.data = c;
  c->handles += 2;
  c->id = ++p->next_conn_id;
  int r1 = pipe__init(&c->up, c, NETEM_DIR_UP), r2 = pipe__init(&c->down, c, NETEM_DIR_DOWN);
  c->handles += 2; /* the two direction timers, initialised even when r1 or r2 fail */
  if (r1 || r2) {
    c->closing = 1;
    uv_close((uv_handle_t *)&c->client, on_closed);
    uv_close((uv_handle_t *)&c->upstream, on_closed);
    uv_close((uv_handle_t *)&c->cut_timer, on_closed);
    uv_close((uv_handle_t *)&c->up.timer, on_closed);
    uv_close((uv_handle_t *)&c->down.timer, on_closed);
    return;
  }
  c->next = p->conns;
  if (p->conns) p->conns->prev = c;
  p->conns = c;
  p->nconns++;
  uv_tcp_nodelay(&c->client, 1);
  peer_name(&c->client, c->peer, sizeof c->peer);
  struct netem_event ev;
  proxy__event_init(&ev, NETEM_EV_CONN_OPEN, NULL);
  ev.conn_id = c->id;
  ev.peer = c->peer;
  proxy__emit(p, &ev);
  if (p->tls && tls_conn__start(c)) {
    conn__close(c, 1, "tls: out of memory");
    return;
  }
  c->connect_req.data = c;
  int rc = uv_tcp_connect(&c->connect_req, &c->upstream, (struct sockaddr *)&p->upstream, on_connect);
  if (rc) {
    char why[96];
    snprintf(why, sizeof why, "upstream connect: %s", uv_strerror(rc));
    conn__close(c, 1, why);
  }
}

static void close_tcp(struct conn *c, uv_tcp_t *t, int reset) {
  if (uv_is_closing((uv_handle_t *)t)) return;
  if (reset && uv_tcp_close_reset(t, on_closed) == 0) return;
  uv_close((uv_handle_t *)t, on_closed);
  (void)c;
}

void conn__close(struct conn *c, int reset, const char *why) {
  if (c->closing) return;
  struct netem_proxy *p = c->p;
  struct netem_event ev;
  proxy__event_init(&ev, NETEM_EV_CONN_CLOSE, NULL);
  ev.conn_id = c->id;
  ev.offset = c->down.read_off;
  ev.body_offset = (int64_t)c->up.read_off;
  ev.detail = why;
  proxy__emit(p, &ev);
  c->closing = 1;
  if (c->prev) c->prev->next = c->next;
  else p->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  p->nconns--;
  proxy__body_unacked(p, c);
  for (struct fault *f = p->faults; f; f = f->next) stage_corrupt_conn_closed(f, c);
  stage_mqtt_conn_closed(c);
  stage_login_conn_closed(c);
  splice__release(&c->up); /* its dups would keep the sockets open past the close */
  splice__release(&c->down);
  close_tcp(c, &c->client, reset);
  close_tcp(c, &c->upstream, reset && c->connected);
  uv_close((uv_handle_t *)&c->cut_timer, on_closed);
  uv_close((uv_handle_t *)&c->up.timer, on_closed);
  uv_close((uv_handle_t *)&c->down.timer, on_closed);
}

void conn__pump_all(struct netem_proxy *p) {
  for (struct conn *c = p->conns; c;) {
    struct conn *next = c->next; /* pumping may close c */
    if (c->connected) {
      pipe__pump(&c->up);
      if (!c->closing) pipe__pump(&c->down);
    }
    c = next;
  }
}

void conn__ref(struct conn *c) { c->handles++; }

void conn__unref(struct conn *c) {
  c->handles--;
  conn_free_if_done(c);
}

/* ---- cuts ---- */

static void cut_rst_poll(uv_timer_t *t) {
  struct conn *c = t->data;
  if (c->closing) return;
  /* RST discards what the client has not acknowledged: wait (at most 1 s) until the
     bytes before the cut have left our send queue, so the client gets exactly them. */
  int fd, outq = 0;
  if (uv_fileno((uv_handle_t *)&c->client, &fd) == 0 && ioctl(fd, SIOCOUTQ, &outq) == 0 && outq > 0 &&
      uv_hrtime() < c->cut_deadline) {
    uv_timer_start(&c->cut_timer, cut_rst_poll, 1, 0);
    return;
  }
  conn__close(c, 1, "cut (RST)");
}

static void linger_timeout(uv_timer_t *t) {
  struct conn *c = t->data;
  conn__close(c, 0, "cut (FIN), client did not close within 2 s");
}

static void cut_shutdown_cb(uv_shutdown_t *req, int status) {
  struct conn *c = req->data;
  if (c->closing) return;
  if (status < 0 || c->up.eof) {
    conn__close(c, 0, "cut (FIN)");
    return;
  }
  /* Lingering close: closing a socket with unread input sends RST, which could cost the
     client the last bytes. Read and drop until the client closes, at most 2 s. */
  uv_timer_start(&c->cut_timer, linger_timeout, 2000, 0);
  if (uv_read_start((uv_stream_t *)&c->client, alloc_cb, on_read) != 0) conn__close(c, 0, "cut (FIN)");
}

void conn__cut(struct conn *c, int rst) {
  if (c->closing || c->cutting) return;
  c->cutting = 1;
  c->cut_rst = rst;
  conn__read_stop(&c->up);
  conn__read_stop(&c->down);
  splice__release(&c->up);
  splice__release(&c->down);
  close_tcp(c, &c->upstream, rst && c->connected);
  if (rst) {
    c->cut_deadline = uv_hrtime() + 1000000000ull;
    cut_rst_poll(&c->cut_timer);
    return;
  }
  c->cut_shutdown.data = c;
  if (uv_shutdown(&c->cut_shutdown, (uv_stream_t *)&c->client, cut_shutdown_cb) != 0)
    conn__close(c, 0, "cut (FIN)");
}
