/* tls_conn: TLS on either side of a proxied connection (private to netem).
 *
 * The client speaks TLS to the proxy; the upstream gets plaintext. OpenSSL runs on two
 * memory BIOs: ciphertext read from the client socket goes into one, what SSL_read gives
 * back is fed to the up direction's pipeline (pipe__input) exactly as plaintext read from
 * a socket would be; the down direction's writes to the client (pipe.c write_slice) go
 * through SSL_write, and the ciphertext is written to the socket. So views, faults, body
 * offsets and events all work on the plaintext, and a cut at body byte N still hands the
 * client exactly N body bytes: the cut runs once their records are written.
 *
 * A cut sends no close_notify (the network was cut, not the session closed); the end of
 * the upstream's stream does, before the FIN. The zero-copy path is off with TLS.
 *
 * The other side (opts.upstream_tls): the proxy is a TLS client of its upstream (an external
 * broker over mqtts), verifying its certificate; the same machinery with the roles turned:
 * the up direction's writes go through SSL_write to the upstream, what SSL_read gives back
 * feeds the down direction. The connection counts as connected once that handshake is done.
 */
#ifndef OTAHIL_NETEM_TLS_CONN_H
#define OTAHIL_NETEM_TLS_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct netem_proxy;
struct conn;
struct tls_ctx;
struct tls_conn;

/* Loads a PEM certificate (chain) and its key into a new server context. Returns NULL
 * with a message naming the file in err. */
struct tls_ctx *tls_ctx__new(const char *cert_file, const char *key_file, char *err, size_t errlen);
/* A client context that verifies its peer's chain against ca_file (NULL: the system's CAs)
 * and that the certificate names `peer` (a host name, or an IP address). NULL with err. */
struct tls_ctx *tls_ctx__new_client(const char *ca_file, const char *peer, char *err, size_t errlen);
/* Sets the name check (and SNI for a name) of a client context on ssl: 0, or -1. */
struct ssl_st;
int tls_ctx__peer_name(const struct tls_ctx *t, struct ssl_st *ssl);
/* Drops the caller's reference: connections made with it keep it until they are freed. */
void tls_ctx__free(struct tls_ctx *t);

/* Starts TLS on an accepted connection (c->p->tls set): the client is read at once, for
 * the handshake. Returns 0 or UV_ENOMEM. */
int tls_conn__start(struct conn *c);
/* The upstream is connected (c->p->up_tls set): starts the proxy's handshake with it, as a
 * client (c->utls); when it is done, conn__upstream_ready(c). Returns 0, or a negative
 * UV_E* code (the connection is closed then if it failed). */
int tls_conn__start_upstream(struct conn *c);
/* The upstream is connected: plaintext may flow (the down direction starts reading once
 * the handshake is done too). */
void tls_conn__connected(struct conn *c);
/* Whether the handshake is done. */
int tls_conn__ready(const struct tls_conn *t);
/* Ciphertext read from the session's peer. */
void tls_conn__input(struct tls_conn *t, const uint8_t *data, size_t len);
/* As uv_write(req, peer, buf, 1, cb) of plaintext: cb(req, status) once its records are
 * written. Returns 0 or a negative UV_E* code (cb is not called then). */
int tls_conn__write(struct tls_conn *t, uv_write_t *req, const uv_buf_t *buf, uv_write_cb cb);
/* Queues close_notify (before the FIN that ends the direction towards the peer). */
void tls_conn__close_notify(struct tls_conn *t);
void tls_conn__free(struct tls_conn *t);

/* Sends the client a fatal alert with this description (a cut with alert=, stage_cut.c),
 * after everything written so far; nothing more is written then (the caller closes).
 * Returns 0, or -1 with why (e.g. a TLS 1.2 session) and nothing sent. */
int tls_conn__alert(struct conn *c, int code, char *why, size_t whylen);

/* tls_alert.c: the alert's record, protected under the server's application traffic
 * secret `secret0` (SERVER_TRAFFIC_SECRET_0) moved on by `updates` KeyUpdates, with
 * sequence number 0 (the caller has just sent a KeyUpdate). 0, or -1 with why. */
#define TLS_ALERT_RECORD_LEN 24
int tls_alert__record(const struct ssl_st *ssl, const uint8_t *secret0, size_t slen, unsigned updates, int code,
                      uint8_t rec[TLS_ALERT_RECORD_LEN], char *why, size_t whylen);

#endif
