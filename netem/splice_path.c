/* splice_path: the zero-copy path of one direction.
 *
 * While the proxy has no fault and the direction's view needs only byte counts (the rest
 * of an HTTP body of known length, a body delimited by the close, a raw stream), bytes go
 * socket -> kernel pipe -> socket with splice(2) and never enter user space, so the proxy
 * costs about what the direct transfer costs. Heads are never spliced: at the end of each
 * body the direction returns to the read path, where http_view parses the next head, so
 * events, body offsets and the delivered counter stay exact.
 *
 * libuv owns the sockets: the path polls dups of their fds (uv_poll) while the tcp handle
 * does not read. A fault added at any time brings every direction back to the read path:
 * what sits in the pipe is read into a chunk and queued as bytes already read, and the
 * stages apply from there, as they would to bytes already queued.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netem_int.h"

/* Measured on loopback (bench/netem_bench, proxy CPU per GiB): 64 KiB and 4 MiB cost more
   than 1 MiB; 1 MiB is also the default pipe-max-size, so it needs no privilege. */
#define SPLICE_PIPE_SIZE (1024 * 1024)
/* A shorter body goes through the read path: setting up the polls costs more. */
#define SPLICE_MIN (64 * 1024)
/* Rounds of (pipe -> dst, src -> pipe) per wake-up, so one connection cannot starve the loop. */
#define SPLICE_ROUNDS 16

static void on_poll(uv_poll_t *h, int status, int events);

int splice__allowed(void) {
  /* splice() to a socket whose peer has gone raises SIGPIPE (there is no MSG_NOSIGNAL). */
  struct sigaction sa;
  sigset_t blocked;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) return 1;
  return pthread_sigmask(SIG_BLOCK, NULL, &blocked) == 0 && sigismember(&blocked, SIGPIPE) == 1;
}

static uint64_t blind_budget(const struct dir *d, int *is_body) {
  *is_body = 0;
  if (d->hv && !d->raw) return http_view_blind(d->hv, is_body);
  if (d->mf && !d->raw) return 0; /* MQTT: every packet is framed */
  return UINT64_MAX;
}

static void poll_closed(uv_handle_t *h) {
  struct dir *d = h->data;
  struct conn *c = d->c; /* alive: this handle is counted in c->handles */
  free(h);
  conn__unref(c);
}

static void close_poll(uv_poll_t **pp, int fd) {
  if (!*pp) return;
  uv_close((uv_handle_t *)*pp, poll_closed); /* stops polling now, so the fd may go */
  *pp = NULL;
  close(fd);
}

static int open_poll(struct dir *d, uv_tcp_t *t, uv_poll_t **out, int *fd_out) {
  uv_os_fd_t fd;
  if (uv_fileno((uv_handle_t *)t, &fd) != 0) return -1;
  int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return -1;
  uv_poll_t *h = malloc(sizeof *h);
  if (!h || uv_poll_init(d->c->p->loop, h, dup_fd) != 0) {
    free(h);
    close(dup_fd);
    return -1;
  }
  h->data = d;
  conn__ref(d->c);
  *out = h;
  *fd_out = dup_fd;
  return 0;
}

static int open_pipe(struct splice_path *sp) {
  if (sp->have_pipe) return 0;
  if (pipe2(sp->pipe_fd, O_NONBLOCK | O_CLOEXEC) != 0) return -1;
  (void)fcntl(sp->pipe_fd[1], F_SETPIPE_SZ, SPLICE_PIPE_SIZE); /* else the default 64 KiB */
  int cap = fcntl(sp->pipe_fd[1], F_GETPIPE_SZ);
  sp->cap = cap > 0 ? (size_t)cap : 65536;
  sp->have_pipe = 1;
  return 0;
}

/* Whether the path could take the direction's next bytes (its queue aside). */
static int eligible(const struct dir *d, uint64_t *budget, int *is_body) {
  const struct conn *c = d->c;
  const struct netem_proxy *p = c->p;
  if (d->sp.on || d->sp.done || !p->splice_ok || p->faults || p->closing || c->closing || c->cutting ||
      !c->connected || d->eof || d->cut || d->shut || d->stall_until)
    return 0;
  *budget = blind_budget(d, is_body);
  return *budget >= SPLICE_MIN;
}

int splice__ready(const struct dir *d) {
  uint64_t budget;
  int is_body;
  return eligible(d, &budget, &is_body);
}

void splice__try(struct dir *d) {
  struct splice_path *sp = &d->sp;
  uint64_t budget;
  int is_body;
  if (d->qhead || d->inflight || !eligible(d, &budget, &is_body)) return;
  /* out of fds or memory: this direction keeps to the read path */
  if (open_pipe(sp) != 0 || open_poll(d, d->src, &sp->prd, &sp->src_fd) != 0) {
    sp->done = 1;
    return;
  }
  if (open_poll(d, d->dst, &sp->pwr, &sp->dst_fd) != 0) {
    close_poll(&sp->prd, sp->src_fd);
    sp->done = 1;
    return;
  }
  conn__read_stop(d);
  sp->on = 1;
  sp->budget = budget;
  sp->is_body = is_body;
  sp->in_pipe = 0;
  sp->rd_events = UV_READABLE;
  sp->wr_events = 0;
  uv_poll_start(sp->prd, UV_READABLE, on_poll);
}

/* Stops the polls and closes the dups; the pipe and its bytes stay. */
static void stop_polls(struct splice_path *sp) {
  close_poll(&sp->prd, sp->src_fd);
  close_poll(&sp->pwr, sp->dst_fd);
  sp->on = 0;
}

void splice__release(struct dir *d) {
  if (!d->sp.on) return;
  stop_polls(&d->sp);
  d->sp.in_pipe = 0; /* dropped with the pipe when the connection is freed */
}

void splice__free(struct dir *d) {
  if (!d->sp.have_pipe) return;
  close(d->sp.pipe_fd[0]);
  close(d->sp.pipe_fd[1]);
  d->sp.have_pipe = 0;
}

void splice__leave(struct dir *d) {
  struct conn *c = d->c;
  struct splice_path *sp = &d->sp;
  if (!sp->on) return;
  stop_polls(sp);
  if (sp->in_pipe > 0) {
    struct chunk *ch = chunk_new(sp->in_pipe);
    size_t got = 0;
    while (ch && got < sp->in_pipe) {
      ssize_t n = read(sp->pipe_fd[0], ch->data + got, sp->in_pipe - got);
      if (n == 0 || (n < 0 && errno != EINTR)) break;
      if (n > 0) got += (size_t)n;
    }
    int rc = ch && got == sp->in_pipe ? pipe__requeue(d, ch, got, sp->is_body) : UV_EIO;
    chunk_unref(ch);
    sp->in_pipe = 0;
    if (rc) {
      conn__close(c, 1, "zero-copy path: its pipe could not be read back");
      return;
    }
  }
  if (!d->cut && !c->cutting && !c->closing && d->queued <= c->p->high_water) conn__read_start(d);
}

static void fail(struct dir *d, int writing, int err) {
  char why[96];
  const char *peer = (d->which == NETEM_DIR_UP) != writing ? "client" : "upstream";
  /* the same words as the read path's errors */
  if (writing) snprintf(why, sizeof why, "write to %s: %s", peer, uv_strerror(-err));
  else snprintf(why, sizeof why, "%s: %s", peer, uv_strerror(-err));
  conn__close(d->c, writing || err == ECONNRESET, why);
}

static void set_events(uv_poll_t *h, int *cur, int want) {
  if (*cur == want) return; /* uv_poll_start re-registers the fd: only on a change */
  *cur = want;
  if (want) uv_poll_start(h, want, on_poll);
  else uv_poll_stop(h);
}

/* Moves bytes until both sides would block. */
static void run(struct dir *d) {
  struct conn *c = d->c;
  struct netem_proxy *p = c->p;
  struct splice_path *sp = &d->sp;
  for (int round = 0; round < SPLICE_ROUNDS; round++) {
    int moved = 0;
    if (sp->in_pipe > 0) {
      ssize_t n = splice(sp->pipe_fd[0], NULL, sp->dst_fd, NULL, sp->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        sp->in_pipe -= (size_t)n;
        p->spliced += (uint64_t)n;
        moved = 1;
        if (d->which == NETEM_DIR_DOWN) c->down_written += (uint64_t)n;
        if (sp->is_body && d->which == NETEM_DIR_DOWN) {
          c->body_counted += (uint64_t)n;
          proxy__body_delivered(p, (uint64_t)n); /* a watch may add a fault or close */
          if (c->closing || !sp->on) return;
        }
      } else if (errno != EAGAIN && errno != EINTR) {
        fail(d, 1, errno);
        return;
      }
    }
    if (sp->budget > 0 && sp->in_pipe < sp->cap) {
      size_t want = sp->cap - sp->in_pipe;
      if (sp->budget < want) want = (size_t)sp->budget;
      ssize_t n = splice(sp->src_fd, NULL, sp->pipe_fd[1], NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d->read_off += (uint64_t)n;
        if (sp->budget != UINT64_MAX) sp->budget -= (uint64_t)n;
        if (d->hv && !d->raw) (void)http_view_skip(d->hv, (size_t)n); /* n <= its blind count */
        sp->in_pipe += (size_t)n;
        moved = 1;
      } else if (n == 0) {
        sp->done = 1; /* the read path sees the EOF again and handles it */
        sp->budget = 0;
      } else if (errno != EAGAIN && errno != EINTR) {
        fail(d, 0, errno);
        return;
      }
    }
    if (!moved) break;
  }
  if (sp->budget == 0 && sp->in_pipe == 0) {
    /* the body is through (or src ended): the read path parses what comes next */
    splice__leave(d);
    if (!c->closing) pipe__pump(d);
    return;
  }
  /* Readable only with an empty pipe: with bytes in it, EAGAIN may mean a full pipe, and a
     readable socket would wake us for nothing; writing them out makes room again. */
  set_events(sp->prd, &sp->rd_events, sp->in_pipe == 0 && sp->budget > 0 ? UV_READABLE : 0);
  set_events(sp->pwr, &sp->wr_events, sp->in_pipe > 0 ? UV_WRITABLE : 0);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  struct dir *d = h->data;
  (void)events;
  if (d->c->closing || !d->sp.on) return;
  if (status < 0) {
    /* the socket has an error: libuv stopped this poll; the socket names the error */
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(h == d->sp.prd ? d->sp.src_fd : d->sp.dst_fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || !err)
      err = EIO;
    fail(d, h == d->sp.pwr, err);
    return;
  }
  run(d);
}
