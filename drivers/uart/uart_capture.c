#include "uart_capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LIMIT ((size_t)64 << 20)

/* The bytes held are mem[head .. head + len), and mem[head + len] is always 0:
 * regexec (and ASan's view of it) may read up to a NUL even when REG_STARTEND
 * gives the length. Dropping the oldest bytes only moves `head`; the held bytes
 * are moved back to the front of mem only when an append needs the room, and
 * mem has a quarter of `limit` to spare, so a console that keeps the capture
 * full (a flooding device) costs a few copies per byte, not a copy of the whole
 * capture per read. */
struct uart_capture {
  char *mem;
  size_t head, len, cap, limit;
  uint64_t base; /* offset of mem[head] */
};

uart_capture *uart_capture_new(size_t limit) {
  uart_capture *c = calloc(1, sizeof *c);
  if (!c) abort();
  c->limit = limit ? limit : DEFAULT_LIMIT;
  return c;
}

void uart_capture_free(uart_capture *c) {
  if (!c) return;
  free(c->mem);
  free(c);
}

static void drop_front(uart_capture *c, size_t n) {
  if (!c->mem || n == 0) return;
  if (n > c->len) n = c->len;
  c->head += n;
  c->len -= n;
  c->base += n;
  if (c->len == 0) c->head = 0;
  c->mem[c->head + c->len] = 0;
}

/* Makes room for `more` bytes after the held ones (c->len + more <= limit).
 * The held bytes go back to the front of mem when they fill at most half of
 * it, else mem grows (doubling, up to limit + limit / 4); at that size they go
 * back to the front again, which then leaves at least limit / 4 free. Either
 * way a move of n bytes buys room for at least n / 4 new ones. */
static void make_room(uart_capture *c, size_t more) {
  size_t need = c->len + more, most = c->limit + c->limit / 4;
  if (c->head + need <= c->cap) return;
  if (c->head > 0) {
    memmove(c->mem, c->mem + c->head, c->len);
    c->head = 0;
  }
  if (need <= c->cap / 2 || c->cap >= most) return;
  size_t cap = c->cap ? c->cap * 2 : 4096;
  while (cap < need) cap *= 2;
  if (cap > most) cap = most;
  char *nm = realloc(c->mem, cap + 1);
  if (!nm) abort();
  c->mem = nm;
  c->cap = cap;
}

void uart_capture_append(uart_capture *c, const void *data, size_t len) {
  const char *p = data;
  if (len >= c->limit) { /* only the newest `limit` bytes can be held */
    c->base += c->len + (len - c->limit);
    c->len = 0;
    c->head = 0;
    p += len - c->limit;
    len = c->limit;
  }
  if (c->len + len > c->limit) drop_front(c, c->len + len - c->limit);
  make_room(c, len);
  memcpy(c->mem + c->head + c->len, p, len);
  c->len += len;
  c->mem[c->head + c->len] = 0;
}

uint64_t uart_capture_end(const uart_capture *c) { return c->base + c->len; }
uint64_t uart_capture_start(const uart_capture *c) { return c->base; }

const char *uart_capture_peek(const uart_capture *c, uint64_t from, size_t *len, uint64_t *at) {
  uint64_t end = c->base + c->len;
  if (from < c->base) from = c->base;
  if (from > end) from = end;
  if (at) *at = from;
  *len = (size_t)(end - from);
  return c->mem ? c->mem + c->head + (from - c->base) : "";
}

void uart_capture_forget(uart_capture *c, uint64_t offset) {
  if (offset <= c->base) return;
  drop_front(c, (size_t)(offset - c->base > c->len ? c->len : offset - c->base));
}

void uart_capture_tail(const uart_capture *c, uint64_t from, int max_lines, char *out, size_t outlen) {
  size_t len;
  const char *p = uart_capture_peek(c, from, &len, NULL);
  out[0] = 0;
  if (outlen == 0 || max_lines <= 0) return;
  /* walk back over max_lines line ends; a final "\n" closes the last line */
  size_t i = len;
  if (i > 0 && p[i - 1] == '\n') i--;
  int lines = 0;
  while (i > 0) {
    if (p[i - 1] == '\n' && ++lines == max_lines) break;
    i--;
  }
  size_t o = 0, col = 0;
  for (; i < len && o + 8 < outlen; i++) {
    char ch = p[i];
    if (ch == '\r') continue;
    if (ch == '\n') {
      if (i + 1 < len) {
        memcpy(out + o, " | ", 3);
        o += 3;
      }
      col = 0;
      continue;
    }
    if (col >= 120) { /* the rest of a long line is left out */
      if (col++ == 120) {
        memcpy(out + o, "...", 3);
        o += 3;
      }
      continue;
    }
    col++;
    out[o++] = (ch >= 32 && ch < 127) ? ch : '.';
  }
  out[o] = 0;
}
