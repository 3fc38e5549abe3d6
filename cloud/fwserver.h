/* fwserver: the firmware HTTP server that plays the cloud's download host.
 *
 * libmicrohttpd in epoll mode, driven by the caller's libuv loop (no thread):
 * a uv_poll_t watches MHD's epoll fd and a uv_timer_t follows MHD_get_timeout().
 * Everything here runs on the loop's thread; nothing is thread safe.
 *
 * URLs:  GET|HEAD /fw/<name>                          unsigned
 *        GET|HEAD /fw/<name>?expires=<unix>&sig=<hex>  signed (see fwserver_sign)
 * Answers: 200 whole file, 206 for one satisfiable `Range: bytes=a-b|a-|-n`
 * (with Content-Range), 416 for an unsatisfiable one (Content-Range: bytes * /size),
 * 404 unknown name or path, 403 bad or expired signature (or no signature on a
 * FWSERVER_SIGNED_ONLY image), 405 other methods, 500 when the file cannot be read.
 * A Range with several parts or a malformed one is ignored (200, as RFC 9110 allows).
 * Files are streamed with pread() per request, never loaded whole; each request
 * opens the file itself, so removing or rebuilding an image does not disturb a
 * download in progress.
 */
#ifndef OTAHIL_FWSERVER_H
#define OTAHIL_FWSERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct fwserver fwserver;

/* One per finished request (after the last byte or when the connection ends).
 * All strings are owned by the server and valid only during the callback. */
typedef struct fwserver_event {
  const char *method;   /* "GET", "HEAD", ... */
  const char *path;     /* the URL path, without the query */
  const char *range;    /* the Range header as sent, or NULL */
  const char *name;     /* the registered image name, or NULL (404 and such) */
  const char *reason;   /* why it ended this way, e.g. "ok", "expired signature",
                           "fault: truncated", "client closed"; never NULL */
  int status;           /* the HTTP status answered: 200, 206, 403, 404, 416, 500... */
  int signed_url;       /* 1 if the URL carried expires/sig */
  uint64_t size;        /* the image's size in bytes (0 if no image) */
  uint64_t offset;      /* first byte of the file the response covers */
  uint64_t length;      /* bytes of the file the response covers (0 for errors and HEAD) */
  uint64_t sent;        /* body bytes written to the socket: exact when complete or
                           cut by a truncate fault, else a lower bound (the last
                           buffer may have partly left when the client went away) */
  int complete;         /* 1 if the whole response (headers and body) was sent */
} fwserver_event;

/* Source faults for one image, in the spirit of curl's <servercmd>.
 * Zero-initialise, then set what you need (truncate_after = -1 means none). */
typedef struct fwserver_fault {
  int status;             /* non-zero: answer this status with a short text body
                             instead of the file (e.g. 500, 503, 404) */
  int ignore_range;       /* 1: answer 200 with the whole file even if Range was asked */
  int64_t truncate_after; /* >= 0: close the connection after this many body bytes
                             (Content-Length still promises the full length) */
  uint64_t delay_ms;      /* wait this long before answering (before the first byte) */
  unsigned times;         /* apply to the next `times` requests, then forget the fault;
                             0 = until changed or cleared */
} fwserver_fault;

/* fwserver_add flags */
#define FWSERVER_SIGNED_ONLY 0x1u /* unsigned requests for this image are 403 */

typedef void (*fwserver_event_cb)(void *arg, const fwserver_event *ev);

/* Starts a server on `host` ("127.0.0.1", "::1" or "localhost"; nothing else is
 * accepted, the harness never listens beyond loopback) and `port` (0: a free one).
 * The signing key is 32 random bytes, new per server.
 * Returns 0 and *out, or -1 with `err` set. The server is freed by fwserver_close. */
int fwserver_start(uv_loop_t *loop, const char *host, uint16_t port,
                   fwserver **out, char *err, size_t errlen);

/* The port actually bound. */
uint16_t fwserver_port(const fwserver *s);

/* Sets (or with cb NULL removes) the callback fired for every finished request.
 * It may fire inside fwserver_close for connections the close cuts. The callback
 * may call any fwserver function, fwserver_close included. */
void fwserver_on_event(fwserver *s, fwserver_event_cb cb, void *arg);

/* Registers `file` as /fw/<name>, replacing an image of the same name (its fault
 * is forgotten; its parked requests are not cut and still get the old file). `name` is 1..128 characters of [A-Za-z0-9._-], not starting with
 * '.'. The file must exist and be a regular file now; it is re-opened per request.
 * `flags`: 0 or FWSERVER_SIGNED_ONLY. Returns 0, or -1 with `err` set. */
int fwserver_add(fwserver *s, const char *name, const char *file, unsigned flags,
                 char *err, size_t errlen);

/* Forgets an image and its fault; requests in flight finish. Requests of that
 * image still parked by a delay fault are cut short: their file is closed now and,
 * on the next turn of the loop, they are answered 503 with Connection: close
 * (their events fire with reason "image removed"). No-op if unknown. */
void fwserver_remove(fwserver *s, const char *name);

/* Forgets every image and fault, and cuts short every parked request as
 * fwserver_remove does. */
void fwserver_clear(fwserver *s);

/* Writes "/fw/<name>?expires=<unix>&sig=<hex>" into `out`, where sig is the
 * lowercase hex HMAC-SHA256 over "<name>\n<expires>" with the server's key.
 * The name need not be registered yet. Returns the length written, or -1 if
 * the name is invalid or `out` is too small. */
int fwserver_sign(fwserver *s, const char *name, int64_t expires_unix, char *out,
                  size_t outlen);

/* Sets the source fault of a registered image; f == NULL clears it.
 * Returns 0, or -1 if the name is not registered or the fault is invalid
 * (status outside 100..599). Requests already answering keep their fault. */
int fwserver_set_fault(fwserver *s, const char *name, const fwserver_fault *f);

/* ---- limits: clients that hold connections --------------------------------
 * A client that opens connections and never sends a request (or a flood of
 * them) must not keep the server from answering others. Each connection is
 * accepted only while fewer than `max_connections` are open and fewer than
 * `max_per_address` are open from its address (else it is closed at once); it
 * has `head_timeout_s` to send its request's head, then the idle timeout of a
 * transfer (120 s, long enough for a stall fault) applies. Behind the netem
 * proxy every device comes from 127.0.0.1, so the per-address cap is sized to
 * hold a whole run's downloads; it keeps one local client (or address) from
 * taking the whole table. Refusals are counted (fwserver_get_stats) and told
 * as a notice line (fwserver_on_notice), at most one a second. */
typedef struct fwserver_limits {
  unsigned max_connections; /* 0: 4096, or half the process's fd limit if lower */
  unsigned max_per_address; /* 0: half of max_connections */
  unsigned head_timeout_s;  /* 0: 10 s */
} fwserver_limits;

/* Sets the limits (zeros are the defaults); new connections get them. */
void fwserver_set_limits(fwserver *s, const fwserver_limits *l);

typedef struct fwserver_stats {
  unsigned open;                 /* connections open now */
  uint64_t refused_total;        /* refused: max_connections were open */
  uint64_t refused_per_address;  /* refused: max_per_address were open from the address */
  uint64_t no_request;           /* closed without a request (the head timeout, or the client left) */
} fwserver_stats;

void fwserver_get_stats(const fwserver *s, fwserver_stats *out);

/* Where notice lines go ("connection limit: refused 12 connections from
 * 127.0.0.2 (1024 open from it)"); NULL: stderr, prefixed "otahil: firmware
 * server: ". The line is valid during the call only. */
void fwserver_on_notice(fwserver *s, void (*cb)(void *arg, const char *line), void *arg);

/* Stops the server: cuts open connections (their events fire, complete = 0),
 * closes the listening socket, then closes the uv handles and frees `s`;
 * `done` (may be NULL) runs from the loop once nothing of the server is left.
 * `s` must not be used after this call. */
void fwserver_close(fwserver *s, void (*done)(void *arg), void *arg);

#endif
