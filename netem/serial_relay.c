/* serial_relay: two ptys joined by the loop, with corrupt and drop stages
 * (see serial_relay.h). Position faults work like netem's stage_corrupt: the
 * bytes they hit are chosen from offsets or from the seed, never from timing,
 * so a run replays. */
#include "serial_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "netem_int.h" /* rng_next, rng_below */

#define HIGH_WATER (64 * 1024)
/* Most bytes read from one side per wake-up of the loop. The high-water mark
 * alone does not bound it: bytes a drop fault takes are never queued, so a
 * side that writes without pause into a dropped line kept the read loop going
 * until the writer paused, and the loop (timers, signals, deadlines) waited. */
#define READ_BUDGET (64 * 1024)

struct side {
  serial_relay *r;
  int master, slave;
  char path[64];
  uv_poll_t poll;
  int events;
};

struct sdir {
  enum serial_dir which;
  struct side *src, *dst;
  uint64_t off;
  uint8_t *buf;
  size_t len, cap;
};

struct rfault {
  struct rfault *next;
  uint32_t id;
  serial_fault f;
  uint64_t base_down, base_up; /* stream offsets when added */
  uint64_t pos[SERIAL_MAX_OFFSETS];
  size_t npos;
};

struct serial_relay {
  uv_loop_t *loop;
  uint64_t seed;
  serial_event_cb cb;
  void *user;
  struct side a, b;
  struct sdir down, up;
  struct rfault *faults;
  uint32_t next_id;
  int closing, handles;
  void (*done)(void *);
  void *done_user;
};

static void relay__update(struct side *s);

static int open_side(serial_relay *r, struct side *s, char *err, size_t errlen) {
  s->r = r;
  if (openpty(&s->master, &s->slave, s->path, NULL, NULL) != 0) {
    snprintf(err, errlen, "serial relay: openpty: %s", strerror(errno));
    return UV_EIO;
  }
  struct termios tio;
  /* raw: a UART carries bytes, not lines */
  if (tcgetattr(s->slave, &tio) == 0) {
    cfmakeraw(&tio);
    tcsetattr(s->slave, TCSANOW, &tio);
  }
  fcntl(s->master, F_SETFL, fcntl(s->master, F_GETFL) | O_NONBLOCK);
  fcntl(s->master, F_SETFD, FD_CLOEXEC);
  fcntl(s->slave, F_SETFD, FD_CLOEXEC);
  return 0;
}

static struct sdir *dir_from(serial_relay *r, struct side *s) { return s == &r->a ? &r->down : &r->up; }
static struct sdir *dir_into(serial_relay *r, struct side *s) { return s == &r->a ? &r->up : &r->down; }

static void emit(serial_relay *r, const serial_event *ev) {
  if (!r->closing && r->cb) r->cb(ev, r->user);
}

static uint8_t mask_for(serial_relay *r, const struct rfault *f, uint64_t off) {
  if (f->f.xor_mask) return (uint8_t)f->f.xor_mask;
  uint64_t st = r->seed ^ ((uint64_t)f->id << 48) ^ off;
  return (uint8_t)(1 + rng_below(&st, 255));
}

/* Runs the faults over one chunk read in direction d, in place; returns the
 * new length (dropped bytes removed). */
static size_t apply_faults(serial_relay *r, struct sdir *d, uint8_t *data, size_t len) {
  size_t out = 0;
  for (size_t i = 0; i < len; i++) {
    uint64_t off = d->off + i;
    int drop = 0;
    for (struct rfault *f = r->faults; f; f = f->next) {
      if (!(f->f.dir & d->which)) continue;
      uint64_t base = d->which == SERIAL_DOWN ? f->base_down : f->base_up;
      if (off < base) continue;
      uint64_t rel = off - base;
      if (f->f.kind == SERIAL_DROP) {
        if (rel >= f->f.at && (f->f.count == 0 || rel < f->f.at + f->f.count)) drop = f->id;
        continue;
      }
      int hit = f->f.every ? (rel + 1) % f->f.every == 0 : 0;
      for (size_t k = 0; !hit && k < f->npos; k++) hit = f->pos[k] == rel;
      if (!hit || drop) continue;
      serial_event ev = {f->id, d->which, "corrupt", off, 1, data[i], -1};
      data[i] ^= mask_for(r, f, off);
      ev.new_byte = data[i];
      emit(r, &ev);
    }
    if (drop) {
      serial_event ev = {(uint32_t)drop, d->which, "drop", off, 1, data[i], -1};
      emit(r, &ev);
      continue;
    }
    data[out++] = data[i];
  }
  d->off += len;
  return out;
}

static void flush(struct sdir *d) {
  while (d->len > 0) {
    ssize_t n = write(d->dst->master, d->buf, d->len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; /* EAGAIN: wait for writable */
    memmove(d->buf, d->buf + n, d->len - (size_t)n);
    d->len -= (size_t)n;
  }
}

static void queue(struct sdir *d, const uint8_t *p, size_t n) {
  if (n == 0) return; /* all dropped: and d->buf may still be NULL */
  if (d->len + n > d->cap) {
    size_t cap = d->cap ? d->cap : 4096;
    while (cap < d->len + n) cap *= 2;
    uint8_t *nb = realloc(d->buf, cap);
    if (!nb) abort();
    d->buf = nb;
    d->cap = cap;
  }
  memcpy(d->buf + d->len, p, n);
  d->len += n;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  struct side *s = h->data;
  serial_relay *r = s->r;
  if (r->closing) return;
  if (status < 0) events = UV_READABLE; /* retry the read; EIO cannot stay while we hold the slave */
  if (events & UV_WRITABLE) flush(dir_into(r, s));
  if (events & UV_READABLE) {
    struct sdir *d = dir_from(r, s);
    uint8_t buf[4096];
    for (size_t got = 0; d->len < HIGH_WATER && got < READ_BUDGET;) {
      ssize_t n = read(s->master, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += (size_t)n;
      size_t keep = apply_faults(r, d, buf, (size_t)n);
      queue(d, buf, keep);
    }
    flush(d);
    relay__update(d->dst);
  }
  relay__update(s);
}

static void relay__update(struct side *s) {
  serial_relay *r = s->r;
  if (r->closing) return;
  int ev = 0;
  if (dir_from(r, s)->len < HIGH_WATER) ev |= UV_READABLE;
  if (dir_into(r, s)->len > 0) ev |= UV_WRITABLE;
  if (ev != s->events) {
    s->events = ev;
    if (ev)
      uv_poll_start(&s->poll, ev, on_poll);
    else
      uv_poll_stop(&s->poll);
  }
}

int serial_relay_open(uv_loop_t *loop, uint64_t seed, serial_event_cb cb, void *user,
                      serial_relay **out, char *err, size_t errlen) {
  serial_relay *r = calloc(1, sizeof *r);
  if (!r) {
    snprintf(err, errlen, "serial relay: out of memory");
    return UV_ENOMEM;
  }
  r->loop = loop;
  r->seed = seed;
  r->cb = cb;
  r->user = user;
  r->a.master = r->a.slave = r->b.master = r->b.slave = -1;
  int rc = open_side(r, &r->a, err, errlen);
  if (rc == 0) rc = open_side(r, &r->b, err, errlen);
  if (rc != 0) {
    if (r->a.master >= 0) close(r->a.master), close(r->a.slave);
    free(r);
    return rc;
  }
  r->down = (struct sdir){SERIAL_DOWN, &r->a, &r->b, 0, NULL, 0, 0};
  r->up = (struct sdir){SERIAL_UP, &r->b, &r->a, 0, NULL, 0, 0};
  struct side *sides[2] = {&r->a, &r->b};
  for (int i = 0; i < 2; i++) {
    uv_poll_init(loop, &sides[i]->poll, sides[i]->master);
    sides[i]->poll.data = sides[i];
    r->handles++;
    relay__update(sides[i]);
  }
  *out = r;
  return 0;
}

const char *serial_relay_path_a(const serial_relay *r) { return r->a.path; }
const char *serial_relay_path_b(const serial_relay *r) { return r->b.path; }

uint64_t serial_relay_bytes(const serial_relay *r, enum serial_dir dir) {
  return dir == SERIAL_UP ? r->up.off : r->down.off;
}

int serial_relay_fault_add(serial_relay *r, const serial_fault *f, uint32_t *id, char *err,
                           size_t errlen) {
  if (f->kind != SERIAL_CORRUPT && f->kind != SERIAL_DROP) {
    snprintf(err, errlen, "serial fault: unknown kind %d", (int)f->kind);
    return UV_EINVAL;
  }
  if ((int)f->dir < 0 || (int)f->dir > SERIAL_BOTH) {
    snprintf(err, errlen, "serial fault: dir must be down, up or both");
    return UV_EINVAL;
  }
  if (f->kind == SERIAL_CORRUPT && !f->n_offsets && !f->random && !f->every) {
    snprintf(err, errlen, "serial corrupt: give bytes, random or every");
    return UV_EINVAL;
  }
  if (f->n_offsets > SERIAL_MAX_OFFSETS || f->random > SERIAL_MAX_OFFSETS) {
    snprintf(err, errlen, "serial corrupt: at most %d bytes", SERIAL_MAX_OFFSETS);
    return UV_EINVAL;
  }
  if (f->xor_mask < 0 || f->xor_mask > 255) {
    snprintf(err, errlen, "serial corrupt: xor must be 1..255");
    return UV_EINVAL;
  }
  struct rfault *x = calloc(1, sizeof *x);
  if (!x) abort();
  x->id = ++r->next_id;
  x->f = *f;
  if (!x->f.dir) x->f.dir = SERIAL_DOWN;
  x->base_down = r->down.off;
  x->base_up = r->up.off;
  memcpy(x->pos, f->offsets, f->n_offsets * sizeof f->offsets[0]);
  x->npos = f->n_offsets;
  if (f->random) {
    uint64_t within = f->within ? f->within : 4096;
    uint64_t st = r->seed ^ 0x5E41A1ULL ^ x->id;
    size_t want = f->random < within ? f->random : (size_t)within;
    while (x->npos < want) {
      uint64_t q = rng_below(&st, within);
      int dup = 0;
      for (size_t i = 0; i < x->npos; i++) dup |= x->pos[i] == q;
      if (!dup) x->pos[x->npos++] = q;
    }
  }
  x->next = r->faults;
  r->faults = x;
  if (id) *id = x->id;
  return 0;
}

void serial_relay_fault_clear(serial_relay *r) {
  while (r->faults) {
    struct rfault *n = r->faults->next;
    free(r->faults);
    r->faults = n;
  }
}

static void on_closed(uv_handle_t *h) {
  struct side *s = h->data;
  serial_relay *r = s->r;
  close(s->master);
  close(s->slave);
  if (--r->handles > 0) return;
  void (*done)(void *) = r->done;
  void *user = r->done_user;
  free(r->down.buf);
  free(r->up.buf);
  free(r);
  if (done) done(user);
}

void serial_relay_close(serial_relay *r, void (*done)(void *user), void *user) {
  if (!r || r->closing) return;
  r->closing = 1;
  r->done = done;
  r->done_user = user;
  serial_relay_fault_clear(r);
  uv_close((uv_handle_t *)&r->a.poll, on_closed);
  uv_close((uv_handle_t *)&r->b.poll, on_closed);
}
