/* tls_conn: TLS termination on memory BIOs (see tls_conn.h). */
#include "tls_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "netem_int.h"

#define ERR(...) \
  do { if (err && errlen) snprintf(err, errlen, __VA_ARGS__); } while (0)

/* Record overhead per 16 KiB record (header, tag, padding), with room to spare. */
#define TLS_RECORD_SLACK(n) ((n) / 16384 * 64 + 1024)
#define TLS_SPARES 6

struct tls_ctx {
  SSL_CTX *ctx;
  char *cert_file;   /* server side: the certificate presented */
  char *peer;        /* client side: the name or address the peer's certificate must have */
  BIO_METHOD *sink; /* the ciphertext output (see sink_write) */
  int refs;         /* the proxy's, and one per connection made with it */
};

/* What OpenSSL wrote for the client and the socket has not been given yet. */
struct out_buf {
  char *data;
  size_t len, cap;
};

struct tls_conn {
  SSL *ssl;
  BIO *rbio, *wbio; /* owned by ssl */
  struct tls_ctx *ctx; /* a reference: wbio uses its method */
  struct out_buf out;
  /* Written buffers kept for the next writes: fresh pages cost a page fault each, more
     than the encryption (perf, 256 MiB); the high-water mark keeps ~4 writes in flight. */
  char *spare[TLS_SPARES];
  size_t spare_cap[TLS_SPARES];
  int nspare;
  int ready;        /* handshake done */
  int stalled;      /* its handshake is held (NETEM_TLS_HS_STALL) */
  int eof;          /* close_notify from the client */
  /* for an alert of our choice (tls_alert.c): the key log's server traffic secret and the
     KeyUpdates the server has sent since */
  uint8_t secret[EVP_MAX_MD_SIZE];
  size_t secret_len;
  unsigned key_updates;
  struct conn *c;
  uv_stream_t *sock; /* where the ciphertext goes: the client, or the upstream */
  struct dir *in;    /* the direction its plaintext feeds: up (client side), down (upstream) */
  int upstream;      /* the proxy is the TLS client, towards its upstream */
};

/* A write of ciphertext: the plaintext write it stands for (NULL for handshake bytes). */
struct tls_wreq {
  uv_write_t req;
  struct tls_conn *t; /* alive: a pending write's callback runs before the handle closes */
  size_t cap;
  uv_write_t *orig;
  uv_write_cb cb;
  char *data;
};

/* The output BIO appends records straight into out_buf, which is then handed to
   uv_write as it is: a memory BIO would copy each record twice more and clear every
   buffer it outgrows (measured: 5x slower than this at 256 MiB). */
static int sink_write(BIO *b, const char *data, size_t len, size_t *written) {
  struct out_buf *o = BIO_get_data(b);
  if (o->len + len > o->cap) {
    size_t cap = o->len + len + TLS_RECORD_SLACK(len);
    char *p = realloc(o->data, cap);
    if (!p) return 0;
    o->data = p;
    o->cap = cap;
  }
  memcpy(o->data + o->len, data, len);
  o->len += len;
  *written = len;
  return 1;
}

static long sink_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)num, (void)ptr;
  if (cmd == BIO_CTRL_FLUSH) return 1;
  if (cmd == BIO_CTRL_WPENDING || cmd == BIO_CTRL_PENDING) return (long)((struct out_buf *)BIO_get_data(b))->len;
  return 0;
}

static int sink_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static void why_ssl(char *buf, size_t size) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e) ERR_error_string_n(e, buf, size);
  else snprintf(buf, size, "connection closed during the handshake");
}

/* OpenSSL's key log, for the server's application traffic secret (RFC 8446 7.1). */
static void keylog(const SSL *ssl, const char *line) {
  static const char tag[] = "SERVER_TRAFFIC_SECRET_0 ";
  struct tls_conn *t = SSL_get_app_data(ssl);
  if (!t || strncmp(line, tag, sizeof tag - 1) != 0) return;
  const char *hex = strchr(line + sizeof tag - 1, ' '); /* past the client random */
  size_t n = 0;
  int hi, lo;
  while (hex && n < sizeof t->secret && (hi = OPENSSL_hexchar2int((unsigned char)hex[1 + 2 * n])) >= 0 &&
         (lo = OPENSSL_hexchar2int((unsigned char)hex[2 + 2 * n])) >= 0)
    t->secret[n++] = (uint8_t)(hi << 4 | lo);
  t->secret_len = n;
}

/* Counts the KeyUpdates the server sends (each moves its traffic secret on). */
static void msg_seen(int write_p, int version, int type, const void *buf, size_t len, SSL *ssl, void *arg) {
  (void)version, (void)ssl;
  struct tls_conn *t = arg;
  if (write_p && type == SSL3_RT_HANDSHAKE && len > 0 && ((const uint8_t *)buf)[0] == SSL3_MT_KEY_UPDATE)
    t->key_updates++;
}

/* A context of either side, with the output sink and its name (the certificate presented,
   server; the peer's name, client); NULL with a message. */
static struct tls_ctx *ctx_alloc(const SSL_METHOD *method, const char *name, int client, char *err, size_t errlen) {
  struct tls_ctx *t = calloc(1, sizeof *t);
  char *copy = t ? strdup(name) : NULL;
  if (t) t->refs = 1;
  if (t && copy) *(client ? &t->peer : &t->cert_file) = copy;
  if (!t || !copy || !(t->ctx = SSL_CTX_new(method)) ||
      !(t->sink = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "netem-tls-out")) ||
      !BIO_meth_set_write_ex(t->sink, sink_write) || !BIO_meth_set_ctrl(t->sink, sink_ctrl) ||
      !BIO_meth_set_create(t->sink, sink_create)) {
    ERR("tls: out of memory");
    tls_ctx__free(t);
    return NULL;
  }
  SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
  return t;
}

struct tls_ctx *tls_ctx__new(const char *cert_file, const char *key_file, char *err, size_t errlen) {
  char why[200] = "";
  struct tls_ctx *t = ctx_alloc(TLS_server_method(), cert_file, 0, err, errlen);
  if (!t) return NULL;
  SSL_CTX_set_keylog_callback(t->ctx, keylog);
  const char *bad = SSL_CTX_use_certificate_chain_file(t->ctx, cert_file) != 1 ? cert_file
                    : SSL_CTX_use_PrivateKey_file(t->ctx, key_file, SSL_FILETYPE_PEM) != 1 ? key_file
                    : SSL_CTX_check_private_key(t->ctx) != 1 ? key_file
                                                              : NULL;
  if (bad) {
    why_ssl(why, sizeof why);
    ERR("tls: %s: %s", bad, why);
    tls_ctx__free(t);
    return NULL;
  }
  return t;
}

struct tls_ctx *tls_ctx__new_client(const char *ca_file, const char *peer, char *err, size_t errlen) {
  char why[200] = "";
  struct tls_ctx *t = ctx_alloc(TLS_client_method(), peer, 1, err, errlen);
  if (!t) return NULL;
  SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
  int ok = ca_file ? SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL) : SSL_CTX_set_default_verify_paths(t->ctx);
  if (ok != 1) {
    why_ssl(why, sizeof why);
    ERR("tls: CA %s: %s", ca_file ? ca_file : "(the system's)", why);
    tls_ctx__free(t);
    return NULL;
  }
  return t;
}

int tls_ctx__peer_name(const struct tls_ctx *t, SSL *ssl) {
  unsigned char addr[16];
  int ip = inet_pton(AF_INET, t->peer, addr) == 1 || inet_pton(AF_INET6, t->peer, addr) == 1;
  if (ip) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), t->peer) == 1 ? 0 : -1;
  return SSL_set1_host(ssl, t->peer) == 1 && SSL_set_tlsext_host_name(ssl, t->peer) == 1 ? 0 : -1;
}

void tls_ctx__free(struct tls_ctx *t) {
  if (!t || --t->refs > 0) return;
  SSL_CTX_free(t->ctx);
  BIO_meth_free(t->sink);
  free(t->cert_file);
  free(t->peer);
  free(t);
}

int netem_proxy_tls_identity(netem_proxy *p, const char *cert_file, const char *key_file, char *err, size_t errlen) {
  if (!p || !p->tls || !cert_file || !key_file) {
    ERR("netem_proxy_tls_identity: the proxy does not terminate TLS");
    return UV_EINVAL;
  }
  struct tls_ctx *t = tls_ctx__new(cert_file, key_file, err, errlen);
  if (!t) return UV_EINVAL;
  tls_ctx__free(p->tls); /* open connections keep theirs: they hold a reference */
  p->tls = t;
  struct netem_event ev;
  proxy__event_init(&ev, NETEM_EV_FAULT, NULL);
  ev.fault = "tls-cert";
  ev.action = "set";
  ev.detail = t->cert_file;
  proxy__emit(p, &ev);
  return 0;
}

static const char *const hs_names[] = {"ok", "stall", "fin", "rst"};

static void hs_event(struct netem_proxy *p, struct conn *c, const char *action, const char *detail) {
  struct netem_event ev;
  proxy__event_init(&ev, NETEM_EV_FAULT, NULL);
  ev.conn_id = c ? c->id : 0;
  ev.dir = c ? NETEM_DIR_UP : 0;
  ev.offset = c ? c->up.read_off : 0;
  ev.fault = "tls-handshake";
  ev.action = action;
  ev.detail = detail;
  proxy__emit(p, &ev);
}

static int handshake(struct tls_conn *t);
static void read_plain(struct tls_conn *t);

int netem_proxy_tls_handshake(netem_proxy *p, enum netem_tls_handshake mode) {
  if (!p || !p->tls || mode < NETEM_TLS_HS_OK || mode > NETEM_TLS_HS_RST) return UV_EINVAL;
  p->tls_hs = mode;
  hs_event(p, NULL, "set", hs_names[mode]);
  if (mode != NETEM_TLS_HS_OK) return 0;
  for (struct conn *c = p->conns; c;) {
    struct conn *next = c->next; /* a handshake may close c */
    if (c->tls && c->tls->stalled && !c->closing) {
      c->tls->stalled = 0;
      if (handshake(c->tls) == 0) read_plain(c->tls);
    }
    c = next;
  }
  return 0;
}

/* ---- ciphertext to the peer ---- */

static void on_written(uv_write_t *req, int status) {
  struct tls_wreq *w = (struct tls_wreq *)req;
  struct tls_conn *t = w->t;
  if (w->cb) w->cb(w->orig, status); /* may close the connection, not free it */
  if (t->nspare < TLS_SPARES && w->cap >= 65536) {
    t->spare[t->nspare] = w->data;
    t->spare_cap[t->nspare++] = w->cap;
  } else {
    free(w->data);
  }
  free(w);
}

/* Writes what OpenSSL produced to the peer (the buffer goes with the write);
   orig/cb as in tls_conn__write. */
static int flush(struct tls_conn *t, uv_write_t *orig, uv_write_cb cb) {
  struct out_buf *o = &t->out;
  if (o->len == 0 && !cb) return 0;
  struct tls_wreq *w = malloc(sizeof *w);
  if (!w) return UV_ENOMEM;
  w->t = t;
  w->cap = o->cap;
  w->orig = orig;
  w->cb = cb;
  w->data = o->data;
  uv_buf_t b = uv_buf_init(o->data ? o->data : (char *)"", (unsigned)o->len);
  int rc = uv_write(&w->req, t->sock, &b, 1, on_written);
  if (rc) {
    free(w); /* the bytes stay in out: the connection is closed by the caller */
    return rc;
  }
  o->data = NULL;
  o->len = o->cap = 0;
  return 0;
}

int tls_conn__write(struct tls_conn *t, uv_write_t *req, const uv_buf_t *buf, uv_write_cb cb) {
  size_t done = 0;
  struct out_buf *o = &t->out;
  if (!t->ready) return UV_EPROTO; /* a direction towards a TLS peer flows only after the handshake */
  if (!o->data && buf->len > 0) { /* one buffer for the whole write's records */
    o->cap = buf->len + TLS_RECORD_SLACK(buf->len);
    if (t->nspare && t->spare_cap[t->nspare - 1] >= o->cap) {
      o->data = t->spare[--t->nspare];
      o->cap = t->spare_cap[t->nspare];
    } else if (!(o->data = malloc(o->cap))) {
      o->cap = 0;
      return UV_ENOMEM;
    }
  }
  if (SSL_write_ex(t->ssl, buf->base, buf->len, &done) != 1 || done != buf->len) {
    ERR_clear_error();
    return UV_EPROTO;
  }
  return flush(t, req, cb);
}

void tls_conn__close_notify(struct tls_conn *t) {
  /* an upstream that ended its stream has closed the connection (a broker after DISCONNECT):
     a record now would only draw an RST */
  if (!t->ready || (t->upstream && t->in->eof)) return;
  (void)SSL_shutdown(t->ssl); /* 0: sent ours; the peer's is not waited for */
  ERR_clear_error();
  (void)flush(t, NULL, NULL);
}

int tls_conn__alert(struct conn *c, int code, char *why, size_t whylen) {
  struct tls_conn *t = c->tls;
  uint8_t rec[TLS_ALERT_RECORD_LEN];
  if (!t->ready) return snprintf(why, whylen, "the handshake is not done"), -1;
  unsigned before = t->key_updates;
  /* a KeyUpdate first: the alert is then the first record under the next secret */
  if (SSL_version(t->ssl) != TLS1_3_VERSION || SSL_key_update(t->ssl, SSL_KEY_UPDATE_NOT_REQUESTED) != 1 ||
      SSL_do_handshake(t->ssl) != 1 || t->key_updates != before + 1) {
    ERR_clear_error();
    snprintf(why, whylen, "%s: no alert of our choice (only TLS 1.3)", SSL_get_version(t->ssl));
    return -1;
  }
  if (tls_alert__record(t->ssl, t->secret, t->secret_len, t->key_updates, code, rec, why, whylen)) return -1;
  size_t done = 0;
  if (!sink_write(t->wbio, (const char *)rec, sizeof rec, &done) || flush(t, NULL, NULL)) {
    snprintf(why, whylen, "cannot write to the client");
    return -1;
  }
  return 0;
}

/* ---- ciphertext from the peer ---- */

static void fail(struct tls_conn *t, const char *what) {
  char why[400], ssl[160];
  why_ssl(ssl, sizeof ssl);
  long v = SSL_get_verify_result(t->ssl);
  if (t->upstream && v != X509_V_OK)
    snprintf(why, sizeof why, "upstream tls %s: %s (%s)", what, ssl, X509_verify_cert_error_string(v));
  else
    snprintf(why, sizeof why, "%stls %s: %s", t->upstream ? "upstream " : "", what, ssl);
  (void)flush(t, NULL, NULL); /* an alert, if the handshake made one */
  conn__close(t->c, 0, why);
}

static int handshake(struct tls_conn *t) {
  struct conn *c = t->c;
  int r = SSL_do_handshake(t->ssl);
  if (flush(t, NULL, NULL)) {
    conn__close(c, 1, "tls: cannot write the handshake");
    return -1;
  }
  if (r == 1) {
    t->ready = 1;
    if (t->upstream) {
      conn__upstream_ready(c);
    } else if (c->connected) {
      conn__read_start(&c->down);
      pipe__pump(&c->down); /* what the upstream sent meanwhile */
    }
    return c->closing ? -1 : 0;
  }
  if (SSL_get_error(t->ssl, r) == SSL_ERROR_WANT_READ) return 1;
  fail(t, "handshake");
  return -1;
}

/* Plaintext out of the session, in chunks, into its direction. */
static void read_plain(struct tls_conn *t) {
  struct conn *c = t->c;
  struct dir *d = t->in;
  while (!c->closing && !c->cutting && !d->cut && !d->eof) {
    struct chunk *ch = chunk_new(NETEM_READ_SIZE);
    if (!ch) {
      conn__close(c, 1, "out of memory");
      return;
    }
    size_t got = 0, n = 0;
    int r = 1;
    while (got < NETEM_READ_SIZE && (r = SSL_read_ex(t->ssl, ch->data + got, NETEM_READ_SIZE - got, &n)) == 1)
      got += n;
    if (got) pipe__input(d, ch, ch->data, got);
    chunk_unref(ch);
    if (r == 1) continue; /* the chunk was full: more may be there */
    int e = SSL_get_error(t->ssl, r);
    if (c->closing) return;
    if (e == SSL_ERROR_WANT_READ) break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      t->eof = 1;
      if (!d->eof) pipe__eof(d);
      break;
    }
    fail(t, "read");
    return;
  }
  ERR_clear_error();
  if (!c->closing && flush(t, NULL, NULL)) conn__close(c, 1, "tls: cannot write to the peer");
}

void tls_conn__input(struct tls_conn *t, const uint8_t *data, size_t len) {
  struct conn *c = t->c;
  if (BIO_write(t->rbio, data, (int)len) != (int)len) {
    conn__close(c, 1, "tls: out of memory");
    return;
  }
  if (!t->ready) {
    int hs = t->upstream ? NETEM_TLS_HS_OK : c->p->tls_hs; /* the handshake faults are the client's */
    if (hs == NETEM_TLS_HS_STALL) { /* held in rbio until the mode is OK again */
      if (!t->stalled) hs_event(c->p, c, "stall", NULL);
      t->stalled = 1;
      return;
    }
    if (hs == NETEM_TLS_HS_FIN || hs == NETEM_TLS_HS_RST) {
      hs_event(c->p, c, hs_names[hs], NULL);
      conn__close(c, hs == NETEM_TLS_HS_RST, "tls fault: cut during the handshake");
      return;
    }
    if (handshake(t) != 0) return;
  }
  read_plain(t);
}

/* ---- life ---- */

int tls_conn__ready(const struct tls_conn *t) { return t->ready; }

static struct tls_conn *conn_new(struct conn *c, struct tls_ctx *ctx, int upstream) {
  struct tls_conn *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->ssl = SSL_new(ctx->ctx);
  t->rbio = BIO_new(BIO_s_mem());
  t->wbio = BIO_new(ctx->sink);
  if (t->wbio) BIO_set_data(t->wbio, &t->out);
  if (!t->ssl || !t->rbio || !t->wbio || (upstream && tls_ctx__peer_name(ctx, t->ssl))) {
    SSL_free(t->ssl);
    BIO_free(t->rbio);
    BIO_free(t->wbio);
    free(t);
    return NULL;
  }
  BIO_set_mem_eof_return(t->rbio, -1); /* empty: "retry", not end of stream */
  SSL_set_app_data(t->ssl, t);
  SSL_set_msg_callback(t->ssl, msg_seen);
  SSL_set_msg_callback_arg(t->ssl, t);
  t->ctx = ctx;
  ctx->refs++;
  SSL_set_bio(t->ssl, t->rbio, t->wbio);
  t->c = c;
  t->upstream = upstream;
  t->sock = (uv_stream_t *)(upstream ? &c->upstream : &c->client);
  t->in = upstream ? &c->down : &c->up;
  return t;
}

int tls_conn__start(struct conn *c) {
  struct tls_conn *t = conn_new(c, c->p->tls, 0);
  if (!t) return UV_ENOMEM;
  SSL_set_accept_state(t->ssl);
  c->tls = t;
  conn__read_start(&c->up);
  return 0;
}

int tls_conn__start_upstream(struct conn *c) {
  struct tls_conn *t = conn_new(c, c->p->up_tls, 1);
  if (!t) return UV_ENOMEM;
  SSL_set_connect_state(t->ssl);
  c->utls = t;
  conn__read_start(&c->down); /* the upstream's side of the handshake */
  return handshake(t) < 0 ? UV_EPROTO : 0;
}

void tls_conn__connected(struct conn *c) {
  conn__read_start(&c->up);
  if (c->tls->ready) conn__read_start(&c->down);
  pipe__pump(&c->up); /* plaintext that came before the upstream was there */
}

void tls_conn__free(struct tls_conn *t) {
  if (!t) return;
  SSL_free(t->ssl);
  tls_ctx__free(t->ctx);
  free(t->out.data);
  while (t->nspare) free(t->spare[--t->nspare]);
  free(t);
}
