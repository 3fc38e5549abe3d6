/* netem_int: the proxy's private structures, shared by its files (not installed API).
 *
 * Data path of one direction (struct dir), from source socket to destination socket:
 *   read -> view (raw | http_view | mqtt_frame + stage_mqtt) -> pipe__bytes(): position
 *   stages (cut, stall, flap split the bytes at their trigger; corrupt changes bytes in
 *   place) -> queue of entries (data, or cut/stall markers) -> pipe__pump(): time stages
 *   (stall, latency via not_before, throttle via pacing) -> uv_write.
 * Reading stops while queued + in-flight bytes exceed the high-water mark, and no
 * direction holds the loop under a flood even when a fault drops what it reads:
 * libuv stops a stream's reads after 32 per wake-up (8 MiB of NETEM_READ_SIZE),
 * the zero-copy path after SPLICE_ROUNDS.
 *
 * While the proxy has no fault and the view needs only byte counts (an HTTP body of known
 * length, a raw stream), a direction takes the zero-copy path instead (splice_path.c):
 * src -> kernel pipe -> dst with splice(2), driven by uv_poll; any fault brings it back.
 */
#ifndef OTAHIL_NETEM_INT_H
#define OTAHIL_NETEM_INT_H

#include <stdint.h>
#include <uv.h>

#include "http_view.h"
#include "mqtt_frame.h"
#include "netem.h"
#include "tls_conn.h"

#define NETEM_READ_SIZE (262144)
#define NETEM_FOREVER UINT64_MAX

/* A reference-counted byte buffer: a read buffer or a copied MQTT packet. */
struct chunk {
  int refs;
  size_t size;
  uint8_t data[];
};
struct chunk *chunk_new(size_t size);
void chunk_unref(struct chunk *c);

enum qkind { Q_DATA, Q_CUT, Q_STALL };

struct qent {
  struct qent *next;
  enum qkind kind;
  struct chunk *chunk; /* Q_DATA */
  uint8_t *p;
  size_t len;
  int is_body;
  uint64_t not_before; /* ns (uv_hrtime), 0 = now */
  /* markers: */
  uint32_t fault_id;
  enum netem_fault_kind fault_kind;
  int rst;
  int has_alert, alert; /* Q_CUT: a fatal TLS alert first (fault alert=) */
  uint64_t ms;
  uint64_t ev_off;
  int64_t ev_body_off;
  uint32_t ev_msg;
};

/* Where a span of bytes is in its direction's stream. */
struct span_meta {
  uint64_t off;      /* stream offset (as read from the source) */
  int is_body;
  uint64_t body_off; /* if is_body */
  uint32_t msg;      /* HTTP message index */
  int64_t content_length; /* HTTP: of the current message, -1 unknown */
};

struct conn;

/* The zero-copy path of one direction (splice_path.c). */
struct splice_path {
  int on;               /* active: the tcp read is stopped, the polls drive the direction */
  int have_pipe;        /* pipe_fd is open (kept for the connection's life) */
  int pipe_fd[2];
  size_t cap;           /* the pipe's capacity */
  size_t in_pipe;       /* bytes read from src and not yet written to dst */
  uint64_t budget;      /* bytes that may still be read unseen; UINT64_MAX: no limit */
  int is_body;          /* what is in the pipe is HTTP body (counts as delivered) */
  int done;             /* never again on this direction: src ended, or no fd was left */
  uv_poll_t *prd, *pwr; /* on dups of the src and dst fds (libuv owns the originals) */
  int src_fd, dst_fd;   /* the dups, valid while prd / pwr exist */
  int rd_events, wr_events;
};

struct dir {
  struct conn *c;
  enum netem_dir which;  /* NETEM_DIR_UP or NETEM_DIR_DOWN */
  uv_tcp_t *src, *dst;
  uint64_t read_off;     /* bytes read from src */
  http_view *hv;
  mqtt_frame *mf;
  int raw;               /* view failed: pass bytes unparsed */
  int64_t cur_cl;        /* HTTP: Content-Length of the current message */
  struct qent *qhead, *qtail;
  size_t queued, inflight;
  int reading, eof, cut;
  int shut;              /* 0, 1 shutdown of dst requested, 2 done */
  uv_timer_t timer;      /* wakes pipe__pump() for latency, throttle, timed stall */
  uint64_t timer_due;
  uint64_t stall_until;  /* ns; NETEM_FOREVER until cleared; 0 not stalled */
  uint32_t stall_fault;
  uint64_t tb_next;      /* throttle: earliest time of the next slice */
  uv_shutdown_t shut_req;
  uint64_t rng;          /* jitter */
  struct splice_path sp;
};

struct delayed; /* stage_mqtt.c */
struct login_hold; /* stage_login.c */

struct conn {
  struct netem_proxy *p;
  struct conn *next, *prev;
  uint64_t id;
  char peer[64];
  uv_tcp_t client, upstream;
  uv_connect_t connect_req;
  uv_shutdown_t cut_shutdown;
  uv_timer_t cut_timer;   /* RST: waits for the send queue to drain; FIN: lingering close */
  struct dir up, down;
  struct delayed *delayed;
  struct login_hold *login; /* the CONNECT held until a decision (opts.login_hold), or NULL */
  int login_done;           /* the login was decided: packets pass */
  int handles;            /* open handles; freed at 0 */
  int closing, connected, cutting;
  int cut_rst;
  uint64_t cut_deadline;
  struct tls_conn *tls;   /* TLS with the client (tls_conn.h), NULL for plain TCP */
  struct tls_conn *utls;  /* TLS with the upstream (opts.upstream_tls), NULL for plain TCP */
  uint64_t down_written;  /* bytes handed to the client's socket (all of them, heads too) */
  uint64_t body_counted;  /* of which HTTP body, counted in the proxy's body_delivered */
};

struct fault {
  struct fault *next;
  struct netem_proxy *p;
  uint32_t id;
  struct netem_fault f;
  enum netem_dir dir;
  uint32_t times;
  uint32_t fired;
  uint64_t added_ns;
  uv_timer_t *timer;     /* cut:ms, timed stall at once */
  int expired;           /* timed stall at once: over */
  /* last position a trigger fired at, so a fault with times=0 fires once per place */
  uint64_t last_conn;
  enum netem_dir last_dir;
  uint32_t last_msg;
  int has_last;
  uint64_t flap_since;   /* flap: bytes since the last cut (proxy-wide) */
  /* corrupt: the message it is applied to */
  int claimed;
  uint64_t claim_conn;
  enum netem_dir claim_dir;
  uint32_t claim_msg;
  uint64_t pos[NETEM_MAX_OFFSETS];
  uint8_t mask[NETEM_MAX_OFFSETS];
  size_t npos;
  uint32_t matches;      /* mqtt-*: matching PUBLISH packets seen */
};

struct watch {
  struct watch *next;
  uint32_t id;
  uint64_t threshold;
  netem_watch_cb cb;
  void *user;
};

struct netem_proxy {
  uv_loop_t *loop;
  char *name;
  enum netem_view view;
  uint64_t seed;
  netem_event_cb on_event;
  void *user;
  size_t high_water;
  uint64_t progress_step, next_progress;
  uv_tcp_t listener;
  int port;
  struct sockaddr_storage upstream;
  struct conn *conns;
  size_t nconns;
  uint64_t next_conn_id;
  struct fault *faults;
  uint32_t next_fault_id;
  size_t nfaults;
  uint64_t body_delivered;
  /* the position faults' queue (cut, stall at an offset, acting a limited number of
     times): where the last one acted, so that the next acts on a later response */
  int seq_has;
  uint64_t seq_conn;
  enum netem_dir seq_dir;
  uint32_t seq_msg;
  struct watch *watches;
  uint32_t next_watch_id;
  uv_timer_t watch_timer;
  int splice_ok;          /* the zero-copy path may be used (see splice_path.c) */
  struct tls_ctx *tls;    /* TLS termination towards clients (tls_conn.h), or NULL */
  struct tls_ctx *up_tls; /* TLS towards the upstream, verifying it (tls_conn.h), or NULL */
  int tls_hs;             /* enum netem_tls_handshake */
  int login_hold;         /* hold CONNECTs for netem_proxy_login() */
  uint64_t login_timeout_ms;
  uint64_t spliced;       /* bytes it forwarded */
  int handles;
  int closing;
  void (*close_done)(void *);
  void *close_user;
};

/* proxy.c */
void proxy__emit(struct netem_proxy *p, struct netem_event *ev);
void proxy__event_init(struct netem_event *ev, enum netem_event_kind kind, struct dir *d);
void proxy__body_delivered(struct netem_proxy *p, uint64_t n);
/* The connection closes: body bytes it counted that the client never acknowledged (written
   after the client closed, or lost with an RST) are taken back from body_delivered. */
void proxy__body_unacked(struct netem_proxy *p, struct conn *c);
/* A position fault that waits its turn in the order added (see pipe.c). */
int proxy__fault_queued(const struct fault *f);
void proxy__handle_closed(struct netem_proxy *p);
int proxy__fault_available(const struct fault *f);
/* Starts a one-shot timer that fires no earlier than ms after now (cut:ms, mqtt-delay). */
void proxy__timer_start_after(uv_timer_t *t, uv_timer_cb cb, uint64_t ms);
int proxy__fault_applies(const struct fault *f, const struct dir *d);
uint64_t proxy__rng_seed(const struct netem_proxy *p, uint64_t a, uint64_t b);

/* conn.c */
void conn__accept(struct netem_proxy *p);
void conn__close(struct conn *c, int reset, const char *why);
void conn__read_start(struct dir *d);
void conn__read_stop(struct dir *d);
/* The upstream is reachable for plaintext (connected, and its TLS handshake done if any). */
void conn__upstream_ready(struct conn *c);
/* The TLS session a direction writes to (client for down, upstream for up), or NULL. */
struct tls_conn *conn__tls_to(const struct dir *d);
void conn__pump_all(struct netem_proxy *p);
/* Closes both sides now that the queue before the cut is written: FIN (after the written
 * bytes) or RST (once the client has acknowledged them). */
void conn__cut(struct conn *c, int rst);
/* For handles a stage owns on a connection (mqtt delay timers): one fewer open. */
void conn__ref(struct conn *c);
void conn__unref(struct conn *c);

/* pipe.c */
int pipe__init(struct dir *d, struct conn *c, enum netem_dir which);
void pipe__free(struct dir *d);
void pipe__input(struct dir *d, struct chunk *ch, uint8_t *data, size_t len);
void pipe__eof(struct dir *d);
/* Position stages over a span, then queued as data (takes a chunk reference per entry). */
void pipe__bytes(struct dir *d, struct chunk *ch, uint8_t *data, size_t len, struct span_meta m);
void pipe__push_marker(struct dir *d, struct qent *marker);
void pipe__pump(struct dir *d);
void pipe__arm(struct dir *d, uint64_t due_ns);
void pipe__drop_markers(struct dir *d, uint32_t fault_id);

/* Queues bytes that were already counted by the view, with no position stage (what the
 * zero-copy path had in its pipe when it stopped). Takes a chunk reference. */
int pipe__requeue(struct dir *d, struct chunk *ch, size_t len, int is_body);

/* splice_path.c */
/* Starts the zero-copy path if the direction may take it (called when its queue is empty). */
void splice__try(struct dir *d);
/* Whether it could take the next bytes once the queue is written: the read path stops
 * reading then, so that it copies no more than it must. */
int splice__ready(const struct dir *d);
/* Back to the read path: the pipe's bytes are queued, reading restarts (caller pumps). */
void splice__leave(struct dir *d);
/* Stops the path and drops what is in its pipe (the connection is closing or cut). */
void splice__release(struct dir *d);
/* Closes the pipe (the connection is freed). */
void splice__free(struct dir *d);
/* Whether the process lets the path run (SIGPIPE ignored or blocked). */
int splice__allowed(void);

/* rng.c: splitmix64 */
uint64_t rng_next(uint64_t *state);
uint64_t rng_below(uint64_t *state, uint64_t n);

/* stage_cut.c */
size_t stage_cut_limit(struct fault *f, struct dir *d, const struct span_meta *m, size_t len);
void stage_cut_fire(struct fault *f, struct dir *d, const struct span_meta *m);
void stage_cut_exec(struct dir *d, const struct qent *marker);
void stage_cut_now(struct conn *c, struct fault *f);
void stage_cut_timer_start(struct fault *f);

/* stage_stall.c */
size_t stage_stall_limit(struct fault *f, struct dir *d, const struct span_meta *m, size_t len);
void stage_stall_fire(struct fault *f, struct dir *d, const struct span_meta *m);
void stage_stall_begin(struct dir *d, const struct qent *marker, uint64_t now);
int stage_stall_blocked(struct dir *d, uint64_t now, uint64_t *wake);
void stage_stall_removed(struct fault *f);

/* stage_flap.c */
size_t stage_flap_limit(struct fault *f, struct dir *d, size_t len);
void stage_flap_count(struct fault *f, size_t n);
void stage_flap_fire(struct fault *f, struct dir *d, const struct span_meta *m);

/* stage_corrupt.c */
void stage_corrupt_apply(struct fault *f, struct dir *d, uint8_t *data, size_t len, const struct span_meta *m);
void stage_corrupt_conn_closed(struct fault *f, struct conn *c);

/* stage_throttle.c: bytes that may be written now (0 = wait until *wake) */
size_t stage_throttle_slice(struct dir *d, uint64_t now, size_t len, uint64_t *wake);
void stage_throttle_removed(struct netem_proxy *p);

/* stage_latency.c */
uint64_t stage_latency_not_before(struct dir *d, uint64_t now);
void stage_latency_removed(struct netem_proxy *p);

/* stage_mqtt.c */
void stage_mqtt_packet(struct dir *d, struct mqtt_packet *pkt);
void stage_mqtt_flush_delayed(struct conn *c, uint32_t fault_id);
void stage_mqtt_conn_closed(struct conn *c);

/* stage_login.c: with login_hold, takes the up direction's packets until the login is decided
 * (1: taken, the caller forwards nothing), else 0. */
int stage_login_take(struct dir *d, const struct mqtt_packet *pkt);
void stage_login_conn_closed(struct conn *c);

#endif
