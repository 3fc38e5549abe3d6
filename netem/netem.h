/* netem: a fault-injecting TCP proxy on a libuv loop.
 *
 * One proxy listens on one address and forwards every accepted connection to one
 * upstream. With no fault it forwards every byte unchanged. Faults are added to and
 * removed from a running proxy at any time (they apply to open and future
 * connections); an optional protocol view (HTTP or MQTT) lets a fault be placed at an
 * HTTP body offset or on MQTT PUBLISH packets whose topic matches a filter.
 *
 * Everything runs on the caller's loop and thread; no function blocks (except
 * netem_proxy_open() when the upstream is a host name that must be resolved).
 * Errors are negative libuv codes (UV_EINVAL, ...); functions taking `err` also
 * write a one-line message naming where the error is.
 *
 * Directions: "up" is client -> upstream, "down" is upstream -> client (the HTTP
 * response, the MQTT messages the broker sends to the device).
 */
#ifndef OTAHIL_NETEM_H
#define OTAHIL_NETEM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "netem_fault.h"

typedef struct netem_proxy netem_proxy;

enum netem_view {
  NETEM_VIEW_RAW = 0, /* bytes only: faults at stream offsets */
  NETEM_VIEW_HTTP,    /* HTTP/1.x: request lines, responses, body offsets */
  NETEM_VIEW_MQTT     /* MQTT 3.1.1 and 5: packets, PUBLISH topics */
};

enum netem_event_kind {
  NETEM_EV_CONN_OPEN,     /* conn_id, peer */
  NETEM_EV_CONN_CLOSE,    /* conn_id, detail = why; offset = bytes down, body_offset = bytes up */
  NETEM_EV_HTTP_REQUEST,  /* method, path, range (NULL if none) */
  NETEM_EV_HTTP_RESPONSE, /* status, content_length (-1 unknown), detail = "chunked" if so */
  NETEM_EV_BODY_PROGRESS, /* body_offset = body bytes delivered to clients so far (proxy total) */
  NETEM_EV_MQTT_PUBLISH,  /* a PUBLISH seen: topic, packet_len, offset */
  NETEM_EV_FAULT,         /* fault_id, fault (kind name), action, offset, body_offset, old/new byte */
  NETEM_EV_FRAMING_ERROR, /* detail = what is wrong; the direction then passes bytes unparsed */
  NETEM_EV_MQTT_LOGIN,    /* a CONNECT held (opts.login_hold): client_id, username, password (lengths
                             given: MQTT strings may hold NUL), protocol_level */
  NETEM_EV_MQTT_LOGIN_DONE, /* its decision: action "accept" or "refuse", status = the CONNACK return
                             code sent (refuse), detail = the reason given (or the timeout's) */
  NETEM_EV_MQTT_SUBSCRIBE /* a SUBSCRIBE from the client: topic = its filters, space-separated */
};

/* One event. All pointers are borrowed and valid only during the callback. */
struct netem_event {
  enum netem_event_kind kind;
  const char *stream;      /* the proxy's name */
  uint64_t conn_id;        /* 1, 2, ... per proxy; 0 for proxy-wide events */
  enum netem_dir dir;      /* NETEM_DIR_UP or NETEM_DIR_DOWN; 0 if not about one direction */
  uint64_t offset;         /* byte offset in the direction's stream (as read from the source) */
  int64_t body_offset;     /* HTTP body offset within the current message, -1 if none */
  uint32_t msg_index;      /* HTTP: 0-based index of the request/response on the connection */
  const char *peer;        /* CONN_OPEN: "127.0.0.1:5555" */
  const char *method, *path, *range; /* HTTP_REQUEST */
  int status;              /* HTTP_RESPONSE */
  int64_t content_length;  /* HTTP_RESPONSE, -1 if not given */
  const char *topic;       /* MQTT_PUBLISH, FAULT on a PUBLISH */
  size_t packet_len;       /* MQTT_PUBLISH */
  uint32_t fault_id;       /* FAULT */
  const char *fault;       /* FAULT: kind name, e.g. "cut" */
  const char *action;      /* FAULT: "fin", "rst", "stall", "release", "corrupt", "drop", ... */
  int old_byte, new_byte;  /* FAULT action "corrupt": the byte before and after, else -1 */
  const char *detail;      /* free text, may be NULL */
  const char *client_id, *username, *password; /* MQTT_LOGIN (username, password NULL if absent) */
  size_t username_len, password_len;
  int protocol_level;      /* MQTT_LOGIN, MQTT_LOGIN_DONE: 3, 4 (3.1.1) or 5 */
};

typedef void (*netem_event_cb)(const struct netem_event *ev, void *user);

/* Formats an event as one human-readable line (no newline) into buf; returns buf. */
char *netem_event_format(const struct netem_event *ev, char *buf, size_t size);

struct netem_proxy_opts {
  const char *name;          /* stream name put in events, e.g. "dev1/http" (copied) */
  const char *listen_host;   /* numeric IPv4/IPv6 address, e.g. "127.0.0.1" */
  int listen_port;           /* 0 picks a free port, see netem_proxy_port() */
  const char *upstream_host; /* numeric address or host name (resolved once, at open) */
  int upstream_port;
  enum netem_view view;
  uint64_t seed;             /* all randomness (corrupt positions, jitter) derives from it */
  netem_event_cb on_event;   /* may be NULL */
  void *user;
  size_t high_water;         /* bytes queued per direction before reading stops; 0 = 1 MiB */
  uint64_t progress_step;    /* emit BODY_PROGRESS every this many body bytes; 0 = never */
  int no_splice;             /* never use the zero-copy path (splice(2)), e.g. to compare.
                                It is used only while the proxy has no fault, and only if
                                the process ignores or blocks SIGPIPE. */
  const char *tls_cert;      /* PEM files: the proxy terminates TLS from its clients with this */
  const char *tls_key;       /* certificate (chain) and key; the upstream gets plaintext, views
                                and faults see plaintext. NULL: plain TCP. */
  int upstream_tls;          /* the upstream speaks TLS: the proxy is its TLS client and verifies
                                its certificate (views and faults still see plaintext) */
  const char *upstream_ca;   /* with upstream_tls: the CA file (PEM) it must chain to; NULL: the
                                system's CAs */
  const char *upstream_tls_name; /* the name or IP the certificate must have; NULL: upstream_host.
                                A failed verification closes the connection, the CONN_CLOSE event
                                says why ("upstream tls handshake: ... (certificate ...)") */
  int login_hold;            /* MQTT view: each connection's CONNECT is held (not forwarded) until
                                netem_proxy_login() decides; an MQTT_LOGIN event announces it */
  uint64_t login_timeout_ms; /* a held CONNECT nobody decides is refused after this; 0 = 5000 */
};

/* Starts listening. On success *out is the proxy (owned by the caller until
 * netem_proxy_close()). Returns 0 or a negative UV_E* code with a message in err. */
int netem_proxy_open(uv_loop_t *loop, const struct netem_proxy_opts *opts, netem_proxy **out,
                     char *err, size_t errlen);

/* The port the proxy listens on (useful with listen_port 0). */
int netem_proxy_port(const netem_proxy *p);

/* Closes the listener and every connection (RST to both peers) and removes all faults.
 * `done` (may be NULL) runs on the loop once every handle is closed; the proxy is freed
 * right after it returns. No event callback runs after this call returns. */
void netem_proxy_close(netem_proxy *p, void (*done)(void *user), void *user);

/* Adds a fault. The fault is copied; *id (may be NULL) gets its id (1, 2, ...).
 * Returns 0, or UV_EINVAL with a message when the fault does not fit (e.g. a body
 * offset on a proxy without the HTTP view). */
int netem_fault_add(netem_proxy *p, const struct netem_fault *f, uint32_t *id, char *err, size_t errlen);

/* Parses SPEC (see netem_fault_parse()) and adds it. */
int netem_fault_add_spec(netem_proxy *p, const char *spec, uint32_t *id, char *err, size_t errlen);

/* Removes one fault. A stall it caused is released, delayed data is sent now, a pending
 * cut it scheduled is cancelled. Returns 0 or UV_ENOENT. */
int netem_fault_remove(netem_proxy *p, uint32_t id);

/* Removes every fault (end of a scenario): as netem_fault_remove() for each. */
void netem_fault_clear(netem_proxy *p);

/* Resets (RST to both peers) every open connection now, whatever is queued; each is a
 * FAULT event with fault "reset", action "rst". Returns how many were open. */
size_t netem_proxy_reset(netem_proxy *p);

/* Number of faults currently installed. */
size_t netem_fault_count(const netem_proxy *p);

/* HTTP body bytes written to clients (all connections) since open or the last reset.
 * When a connection closes, what it counted that the client's TCP never acknowledged
 * (bytes written after the client had closed, bytes an RST discarded) is taken back:
 * the counter is what the clients could have received. */
uint64_t netem_proxy_body_delivered(const netem_proxy *p);
void netem_proxy_reset_body_delivered(netem_proxy *p);

/* Calls cb once, on the loop, when the delivered body counter reaches `threshold`
 * (at once, from a later loop turn, if it already has). *id (may be NULL) names the watch
 * for netem_proxy_unwatch(). Watches are dropped without a call when the proxy closes. */
typedef void (*netem_watch_cb)(netem_proxy *p, uint64_t delivered, void *user);
int netem_proxy_watch_body(netem_proxy *p, uint64_t threshold, netem_watch_cb cb, void *user,
                           uint32_t *id);
int netem_proxy_unwatch(netem_proxy *p, uint32_t id);

/* With TLS (opts.tls_cert): present this certificate and key to connections accepted from
 * now on (open ones keep theirs), e.g. an expired one or one for another name. Emits a
 * FAULT event (fault "tls-cert", action "set", detail = the file). Returns 0, or UV_EINVAL
 * with a message naming the file (the identity in use is kept). */
int netem_proxy_tls_identity(netem_proxy *p, const char *cert_file, const char *key_file, char *err,
                             size_t errlen);

/* With TLS: what the proxy does to the handshakes of connections accepted from now on and
 * of those still in theirs: complete them (OK), read and never answer (STALL: until set back
 * to OK, when the stalled ones go on), or close at the ClientHello (FIN, RST). Emits a FAULT
 * event (fault "tls-handshake", action "set", detail = the mode) and one per connection it
 * acts on (action "stall", "fin", "rst"). Returns 0 or UV_EINVAL. */
enum netem_tls_handshake { NETEM_TLS_HS_OK = 0, NETEM_TLS_HS_STALL, NETEM_TLS_HS_FIN, NETEM_TLS_HS_RST };
int netem_proxy_tls_handshake(netem_proxy *p, enum netem_tls_handshake mode);

/* The decision on a held CONNECT (opts.login_hold) of connection conn_id. ACCEPT forwards it
 * unchanged (and what the client sent after it, without the MQTT faults); a refusal answers
 * the client with a CONNACK carrying the refusal for its protocol level (3.1/3.1.1: 4 bad user
 * name or password, 5 not authorized; 5.0: 0x86, 0x87) and closes the connection (FIN after
 * it). `why` (may be NULL) goes into the MQTT_LOGIN_DONE event. Call it from the loop, not
 * from inside the event callback. Returns 0, or UV_ENOENT when that connection holds no
 * CONNECT (closed, decided, or refused by the timeout). */
enum netem_login { NETEM_LOGIN_ACCEPT = 0, NETEM_LOGIN_BAD_CREDENTIALS, NETEM_LOGIN_NOT_AUTHORIZED };
int netem_proxy_login(netem_proxy *p, uint64_t conn_id, enum netem_login verdict, const char *why);

/* As a refusal by netem_proxy_login(), with this CONNACK code exactly (1..255: 3.1.1 knows 1-5,
 * MQTT 5 the reason codes from 0x80). Returns 0, UV_EINVAL or UV_ENOENT. */
int netem_proxy_login_refuse_code(netem_proxy *p, uint64_t conn_id, int code, const char *why);

/* The CONNACK return code of a refusal at a protocol level (4 or 5; 0x86 or 0x87 for 5.0). */
int netem_login_code(enum netem_login verdict, int protocol_level);

/* Number of open connections. */
size_t netem_proxy_conn_count(const netem_proxy *p);

/* Bytes forwarded by the zero-copy path since open (tests, benchmarks). */
uint64_t netem_proxy_spliced(const netem_proxy *p);

#endif
