/* The tcp transport: raw TCP to a console server such as ser2net.
 *
 * ser2net accepts a connection even when it cannot open the serial device (the
 * board is off, the USB adapter is away); it then writes a line such as
 * "Device open failure: Value or file not found\r\n" and closes. Those bytes are
 * not the device's, so a new connection is on probation for PROBATION_MS: what
 * it brings is held back, and if the server closes within that time the open
 * failed (the text is the reason, and retrying goes on); otherwise the port is
 * up and the held bytes are captured in order.
 *
 * A filter (uart_tcp.h) may sit between the socket and the console: telnet
 * takes its commands out of what arrives (before probation holds it, so the
 * reason text is clean too), encodes what is sent, answers the server, and may
 * refuse a connection at the end of probation (RFC 2217 refused). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uart_tcp.h"

#define PROBATION_MS 300
#define HELD_MAX (64 * 1024)

typedef struct tcp_tx tcp_tx;

/* One connection attempt; it outlives its transport until libuv lets go. */
typedef struct tcp_conn {
  tcp_tx *t; /* NULL once abandoned */
  uv_getaddrinfo_t gai;
  uv_connect_t connect;
  uv_tcp_t tcp;
  uv_timer_t probation;
  int pending; /* handles and requests libuv still holds */
  int connected, on_probation, dead;
  char *held;
  size_t nheld;
  char rbuf[16384];
} tcp_conn;

struct tcp_tx {
  uart_tx base;
  char *host;
  char port[16];
  tcp_conn *conn; /* the current attempt or connection */
  int filtered;
  uart_tcp_filter filter;
};

static void conn__unref(tcp_conn *k) {
  if (--k->pending == 0) {
    free(k->held);
    free(k);
  }
}

static void conn__handle_closed(uv_handle_t *h) { conn__unref(h->data); }

/* Drops the connection; the struct frees itself when libuv lets go. */
static void conn__kill(tcp_conn *k) {
  if (k->dead) return;
  k->dead = 1;
  if (k->t && k->t->conn == k) k->t->conn = NULL;
  k->t = NULL;
  uv_timer_stop(&k->probation);
  if (!uv_is_closing((uv_handle_t *)&k->probation)) uv_close((uv_handle_t *)&k->probation, conn__handle_closed);
  if (!uv_is_closing((uv_handle_t *)&k->tcp)) uv_close((uv_handle_t *)&k->tcp, conn__handle_closed);
}

static void conn__alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  tcp_conn *k = h->data;
  (void)suggested;
  buf->base = k->rbuf;
  buf->len = sizeof k->rbuf;
}

/* Trims ser2net's message to one line for the reason. */
static void reason_of(const char *held, size_t n, char *out, size_t outlen) {
  size_t o = 0;
  for (size_t i = 0; i < n && o + 1 < outlen; i++) {
    char ch = held[i];
    if (ch == '\r' || ch == '\n') {
      if (o) break;
      continue;
    }
    out[o++] = (ch >= 32 && ch < 127) ? ch : '.';
  }
  out[o] = 0;
}

static void write_done(uv_write_t *req, int status) {
  (void)status;
  free(req);
}

/* Queues bytes on the socket as they are. Returns 0 or a libuv error. */
static int conn__write(tcp_conn *k, const char *data, size_t len) {
  /* the request and the bytes in one block, freed when written */
  uv_write_t *req = malloc(sizeof *req + len);
  if (!req) abort();
  memcpy(req + 1, data, len);
  uv_buf_t b = uv_buf_init((char *)(req + 1), (unsigned)len);
  int rc = uv_write(req, (uv_stream_t *)&k->tcp, &b, 1, write_done);
  if (rc != 0) free(req);
  return rc;
}

/* Sends what the filter wants to tell the server (negotiation answers). A
 * failed write is left to the read side, which sees the connection go. */
static void conn__flush_filter(tcp_tx *t, tcp_conn *k) {
  size_t len = 0;
  const char *p = t->filter.pending(t->filter.arg, &len);
  if (!p || len == 0) return;
  conn__write(k, p, len);
  t->filter.sent(t->filter.arg);
}

static void conn__read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  tcp_conn *k = s->data;
  tcp_tx *t = k->t;
  if (!t || k->dead) return;
  if (n > 0 && t->filtered) {
    n = (ssize_t)t->filter.recv(t->filter.arg, buf->base, (size_t)n);
    conn__flush_filter(t, k);
    if (n == 0) return;
  }
  if (n > 0) {
    if (k->on_probation) {
      if (k->nheld + (size_t)n > HELD_MAX) n = (ssize_t)(HELD_MAX - k->nheld);
      char *nh = realloc(k->held, k->nheld + (size_t)n + 1);
      if (!nh) abort();
      k->held = nh;
      memcpy(k->held + k->nheld, buf->base, (size_t)n);
      k->nheld += (size_t)n;
    } else {
      console__data(t->base.con, buf->base, (size_t)n);
    }
    return;
  }
  if (n == 0) return;
  char why[300];
  console *con = t->base.con;
  if (k->on_probation) {
    char text[200] = "";
    reason_of(k->held, k->nheld, text, sizeof text);
    snprintf(why, sizeof why, "%s:%s closed the connection at once%s%s", t->host, t->port,
             text[0] ? ": " : "", text);
    conn__kill(k);
    console__failed(con, why);
  } else {
    snprintf(why, sizeof why, "%s:%s: %s", t->host, t->port,
             n == UV_EOF ? "the server closed the connection" : uv_strerror((int)n));
    conn__kill(k);
    console__lost(con, why);
  }
}

static void conn__probation_over(uv_timer_t *timer) {
  tcp_conn *k = timer->data;
  tcp_tx *t = k->t;
  if (!t || k->dead) return;
  char text[200] = "";
  if (t->filtered && t->filter.ready && t->filter.ready(t->filter.arg, text, sizeof text) != 0) {
    char why[300];
    snprintf(why, sizeof why, "%s:%s: %s", t->host, t->port, text);
    console *con = t->base.con;
    conn__kill(k);
    console__failed(con, why);
    return;
  }
  k->on_probation = 0;
  console__up(t->base.con);
  if (k->nheld) console__data(t->base.con, k->held, k->nheld);
  free(k->held);
  k->held = NULL;
  k->nheld = 0;
}

static void conn__connected(uv_connect_t *req, int status) {
  tcp_conn *k = req->data;
  tcp_tx *t = k->t;
  if (!t || k->dead) {
    conn__unref(k);
    return;
  }
  if (status < 0) {
    char why[300];
    snprintf(why, sizeof why, "%s:%s: %s", t->host, t->port, uv_strerror(status));
    console *con = t->base.con;
    conn__kill(k);
    conn__unref(k);
    console__failed(con, why);
    return;
  }
  conn__unref(k);
  k->connected = 1;
  k->on_probation = 1;
  uv_tcp_nodelay(&k->tcp, 1);
  if (t->filtered) {
    t->filter.reset(t->filter.arg);
    conn__flush_filter(t, k);
  }
  uv_read_start((uv_stream_t *)&k->tcp, conn__alloc, conn__read);
  uv_timer_start(&k->probation, conn__probation_over, PROBATION_MS, 0);
}

static void conn__resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  tcp_conn *k = req->data;
  tcp_tx *t = k->t;
  if (!t || k->dead || status < 0) {
    if (t && !k->dead) {
      char why[300];
      snprintf(why, sizeof why, "%s: %s", t->host, uv_strerror(status));
      console *con = t->base.con;
      conn__kill(k);
      console__failed(con, why);
    }
    if (res) uv_freeaddrinfo(res);
    conn__unref(k);
    return;
  }
  k->connect.data = k;
  int rc = uv_tcp_connect(&k->connect, &k->tcp, res->ai_addr, conn__connected);
  uv_freeaddrinfo(res);
  if (rc == 0) {
    k->pending++; /* the connect request */
    conn__unref(k); /* the resolver */
    return;
  }
  char why[300];
  snprintf(why, sizeof why, "%s:%s: %s", t->host, t->port, uv_strerror(rc));
  console *con = t->base.con;
  conn__kill(k);
  conn__unref(k);
  console__failed(con, why);
}

static int tcp__open(uart_tx *base, char *err, size_t errlen) {
  tcp_tx *t = (tcp_tx *)base;
  tcp_conn *k = calloc(1, sizeof *k);
  if (!k) abort();
  k->t = t;
  uv_tcp_init(t->base.loop, &k->tcp);
  uv_timer_init(t->base.loop, &k->probation);
  k->tcp.data = k->probation.data = k->gai.data = k;
  k->pending = 3; /* tcp handle, timer, resolver */
  struct addrinfo hints = {0};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = uv_getaddrinfo(t->base.loop, &k->gai, conn__resolved, t->host, t->port, &hints);
  if (rc != 0) {
    snprintf(err, errlen, "%s: %s", t->host, uv_strerror(rc));
    conn__kill(k);
    conn__unref(k);
    return -1;
  }
  t->conn = k;
  return 1;
}

static int tcp__write(uart_tx *base, const void *data, size_t len, char *err, size_t errlen) {
  tcp_tx *t = (tcp_tx *)base;
  tcp_conn *k = t->conn;
  if (!k || !k->connected) {
    snprintf(err, errlen, "%s:%s is not connected", t->host, t->port);
    return -1;
  }
  int rc;
  if (t->filtered) {
    char *enc = malloc(2 * len + 1);
    if (!enc) abort();
    size_t n = t->filter.encode(t->filter.arg, data, len, enc);
    rc = conn__write(k, enc, n);
    free(enc);
  } else {
    rc = conn__write(k, data, len);
  }
  if (rc != 0) {
    snprintf(err, errlen, "%s:%s: %s", t->host, t->port, uv_strerror(rc));
    return -1;
  }
  return 0;
}

static void tcp__close(uart_tx *base) {
  tcp_tx *t = (tcp_tx *)base;
  if (t->conn) conn__kill(t->conn);
}

static void tcp__destroy(uart_tx *base) {
  tcp_tx *t = (tcp_tx *)base;
  tcp__close(base);
  if (t->filtered && t->filter.free) t->filter.free(t->filter.arg);
  free(t->host);
  free(t);
}

static const uart_tx_ops tcp_ops = {tcp__open, tcp__write, NULL, tcp__close, tcp__destroy};

uart_tx *uart_tcp_new(uv_loop_t *loop, console *con, const console_config *cfg, char *desc,
                      size_t desclen, char *err, size_t errlen) {
  return uart_tcp_new_filtered(loop, con, cfg, "tcp", NULL, desc, desclen, err, errlen);
}

uart_tx *uart_tcp_new_filtered(uv_loop_t *loop, console *con, const console_config *cfg, const char *kind,
                               const uart_tcp_filter *filter, char *desc, size_t desclen, char *err,
                               size_t errlen) {
  tcp_tx *t = NULL;
  if (!cfg->host || !*cfg->host || cfg->tcp_port <= 0 || cfg->tcp_port > 65535)
    snprintf(err, errlen, "a %s console needs a host and a tcp_port (1..65535)", kind);
  else if (!(t = calloc(1, sizeof *t)))
    snprintf(err, errlen, "out of memory");
  if (!t) {
    if (filter && filter->free) filter->free(filter->arg);
    return NULL;
  }
  if (filter) {
    t->filtered = 1;
    t->filter = *filter;
  }
  t->base.ops = &tcp_ops;
  t->base.con = con;
  t->base.loop = loop;
  t->host = strdup(cfg->host);
  snprintf(t->port, sizeof t->port, "%d", cfg->tcp_port);
  snprintf(desc, desclen, "%s %s:%d", kind, cfg->host, cfg->tcp_port);
  return &t->base;
}
