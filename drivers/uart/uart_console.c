#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uart_console.h"
#include "uart_transport.h"

#define LINE_MAX_BYTES 8192
#define DEFAULT_CAP_BYTES ((size_t)16 << 20)
#define DEFAULT_CAP_RATE (1024.0 * 1024.0)
/* Once dropping, bytes are let in again only when this much budget is back: a
 * flood is captured in runs of this size, not in slivers of every read. */
#define RESUME_BYTES (64.0 * 1024.0)

struct console_listener {
  void (*fn)(void *arg);
  void *arg;
  console_listener *next;
};

struct console {
  uv_loop_t *loop;
  console_config cfg;
  console_callbacks cb;
  uart_tx *tx;
  int slave_fd;
  char desc[300];
  uart_capture *cap;
  console_listener *listeners;
  uv_timer_t retry;
  int up;
  int opening;    /* an open goes on (tcp) */
  int ever_up;
  double down_at; /* since when the port is away */
  uint64_t down_offset;
  char why[256];
  double last_rx;
  double tokens, tokens_at; /* the flood guard's budget, and when it was refilled */
  uint64_t dropped;
  int dropping;             /* since the last drop, the budget has not refilled to RESUME */
  char line[LINE_MAX_BYTES + 1];
  size_t len;
  int closing;
};

static double now_s(void) { return (double)uv_hrtime() / 1e9; }

static void console__emit(console *c) {
  c->line[c->len] = 0;
  if (c->cb.line) c->cb.line(c->cb.arg, c->line, c->len);
  c->len = 0;
}

/* How many of n new bytes the flood guard lets in now. */
static size_t console__allow(console *c, size_t n, double now) {
  if (c->cfg.cap_bytes == SIZE_MAX || isinf(c->cfg.cap_rate)) return n; /* turned off */
  double cap = (double)c->cfg.cap_bytes;
  c->tokens += (now - c->tokens_at) * c->cfg.cap_rate;
  c->tokens_at = now;
  if (c->tokens > cap) c->tokens = cap;
  if (c->dropping && c->tokens < (cap < RESUME_BYTES ? cap : RESUME_BYTES)) return 0;
  size_t take = c->tokens >= (double)n ? n : c->tokens > 0 ? (size_t)c->tokens : 0;
  c->tokens -= (double)take;
  c->dropping = take < n;
  return take;
}

static void console__lines(console *c, const char *data, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char ch = data[i];
    if (ch == '\r') continue;
    if (ch == '\n') {
      console__emit(c);
      continue;
    }
    /* an endless line is cut rather than grown without bound */
    if (c->len == LINE_MAX_BYTES) console__emit(c);
    c->line[c->len++] = ch ? ch : '.';
  }
}

void console__data(console *c, const char *data, size_t n) {
  if (c->closing || n == 0) return;
  double now = now_s();
  c->last_rx = now;
  size_t take = console__allow(c, n, now);
  if (take > 0) {
    uart_capture_append(c->cap, data, take);
    console__lines(c, data, take);
  }
  if (take < n) {
    /* the line the drop cuts is delivered as it is, not joined to a later one */
    if (c->len) console__emit(c);
    c->dropped += n - take;
  }
  if (take == 0) return;
  for (console_listener *l = c->listeners; l;) {
    console_listener *next = l->next; /* a listener may remove itself */
    l->fn(l->arg);
    l = next;
  }
}

static void console__retry_cb(uv_timer_t *t);

static void console__schedule(console *c) {
  if (c->closing) return;
  uint64_t ms = (uint64_t)(c->cfg.retry_s * 1000.0);
  uv_timer_start(&c->retry, console__retry_cb, ms ? ms : 1, 0);
}

static void console__went_up(console *c) {
  c->up = 1;
  c->opening = 0;
  if (c->ever_up || c->down_offset != 0 || c->why[0]) {
    console_gap g = {c->down_at, now_s(), c->down_offset, c->why};
    if (c->cb.up) c->cb.up(c->cb.arg, &g);
  }
  c->ever_up = 1;
  c->why[0] = 0;
}

void console__up(console *c) {
  if (c->closing) return;
  console__went_up(c);
}

void console__failed(console *c, const char *why) {
  c->opening = 0;
  snprintf(c->why, sizeof c->why, "%s", why);
  console__schedule(c);
}

void console__lost(console *c, const char *why) {
  if (c->closing || !c->up) return;
  c->up = 0;
  /* the bytes of a partial line stay: the line goes on after the gap */
  c->down_at = now_s();
  c->down_offset = uart_capture_end(c->cap);
  snprintf(c->why, sizeof c->why, "%s", why);
  if (c->cb.down) c->cb.down(c->cb.arg, why, c->down_offset);
  console__schedule(c);
}

static void console__try_open(console *c) {
  char err[256] = "";
  int rc = c->tx->ops->open(c->tx, err, sizeof err);
  if (rc == 0) console__went_up(c);
  else if (rc == 1) c->opening = 1;
  else console__failed(c, err);
}

static void console__retry_cb(uv_timer_t *t) {
  console *c = t->data;
  if (c->closing || c->up || c->opening) return;
  console__try_open(c);
}

int console_open(uv_loop_t *loop, const console_config *cfg, const console_callbacks *cb,
                 console **out, char *err, size_t errlen) {
  console *c = calloc(1, sizeof *c);
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  c->loop = loop;
  c->cfg = *cfg;
  if (c->cfg.retry_s <= 0) c->cfg.retry_s = 0.25;
  if (c->cfg.cap_bytes == 0) c->cfg.cap_bytes = DEFAULT_CAP_BYTES;
  if (!(c->cfg.cap_rate > 0)) c->cfg.cap_rate = DEFAULT_CAP_RATE;
  c->tokens = (double)c->cfg.cap_bytes;
  c->tokens_at = now_s();
  if (cb) c->cb = *cb;
  c->slave_fd = -1;
  switch (cfg->transport) {
  case CONSOLE_PTY:
    c->tx = uart_pty_new(loop, c, &c->slave_fd, c->desc, sizeof c->desc, err, errlen);
    break;
  case CONSOLE_SERIAL:
    c->tx = uart_serial_new(loop, c, cfg, c->desc, sizeof c->desc, err, errlen);
    break;
  case CONSOLE_TCP:
    c->tx = uart_tcp_new(loop, c, cfg, c->desc, sizeof c->desc, err, errlen);
    break;
  case CONSOLE_TELNET:
    c->tx = uart_telnet_new(loop, c, cfg, c->desc, sizeof c->desc, err, errlen);
    break;
  default:
    snprintf(err, errlen, "unknown console transport %d", (int)cfg->transport);
    break;
  }
  if (!c->tx) {
    free(c);
    return -1;
  }
  c->cap = uart_capture_new(cfg->limit);
  uv_timer_init(loop, &c->retry);
  c->retry.data = c;
  c->down_at = now_s();
  console__try_open(c);
  *out = c;
  return 0;
}

int console_slave_fd(const console *c) { return c->slave_fd; }
const char *console_describe(const console *c) { return c->desc; }

int console_send(console *c, const void *data, size_t len, char *err, size_t errlen) {
  if (c->up) return c->tx->ops->write(c->tx, data, len, err, errlen);
  /* while an open goes on (tcp on probation), the connection may take bytes */
  if (c->opening && c->tx->ops->write(c->tx, data, len, err, errlen) == 0) return 0;
  snprintf(err, errlen, "%s is down (%s)", c->desc, c->why[0] ? c->why : "not open yet");
  return -1;
}

void console_flush(console *c) {
  if (c->closing) return;
  if (c->up && c->tx->ops->drain) c->tx->ops->drain(c->tx);
  if (c->len) console__emit(c);
}

uart_capture *console_capture(console *c) { return c->cap; }
uint64_t console_bytes(const console *c) { return uart_capture_end(c->cap); }
double console_last_rx(const console *c) { return c->last_rx; }
int console_is_up(const console *c) { return c->up; }
uint64_t console_dropped(const console *c) { return c->dropped; }

void console_budget_reset(console *c) {
  c->dropping = 0;
  c->tokens = (double)c->cfg.cap_bytes;
  c->tokens_at = now_s();
}
const char *console_down_why(const console *c) { return c->up ? NULL : c->why[0] ? c->why : "not open yet"; }

console_listener *console_listen(console *c, void (*fn)(void *), void *arg) {
  console_listener *l = calloc(1, sizeof *l);
  if (!l) abort();
  l->fn = fn;
  l->arg = arg;
  l->next = c->listeners;
  c->listeners = l;
  return l;
}

void console_unlisten(console *c, console_listener *l) {
  for (console_listener **p = &c->listeners; *p; p = &(*p)->next)
    if (*p == l) {
      *p = l->next;
      free(l);
      return;
    }
}

static void console__closed(uv_handle_t *h) {
  console *c = h->data;
  uart_capture_free(c->cap);
  while (c->listeners) {
    console_listener *l = c->listeners;
    c->listeners = l->next;
    free(l);
  }
  free(c);
}

void console_close(console *c) {
  if (!c || c->closing) return;
  console_flush(c);
  c->closing = 1;
  c->tx->ops->destroy(c->tx);
  c->tx = NULL;
  uv_timer_stop(&c->retry);
  uv_close((uv_handle_t *)&c->retry, console__closed);
}
