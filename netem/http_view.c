/* http_view: incremental HTTP/1.x framing (see http_view.h). */
#include "http_view.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEAD_MAX (64 * 1024)
#define LINE_MAX_ 1024
#define PENDING_MAX 64

enum state { S_HEAD, S_BODY_LEN, S_BODY_EOF, S_CHUNK_SIZE, S_CHUNK_DATA, S_CHUNK_CRLF, S_TRAILER, S_RAW };

struct http_view {
  enum http_view_role role;
  enum state st;
  uint64_t off;     /* stream offset of the next byte */
  uint32_t msg;
  uint64_t body_off;
  uint64_t remaining; /* S_BODY_LEN, S_CHUNK_DATA */
  int crlf_seen;      /* S_CHUNK_CRLF: bytes of "\r\n" seen */
  char *head;         /* head bytes of the current message */
  size_t head_len;
  size_t line_start;  /* index in head (or line) where the current line starts */
  char line[LINE_MAX_];
  size_t line_len;
  int trailer_line_len;
  struct http_head info;
  unsigned char pending[PENDING_MAX]; /* responses: is_head of requests not yet answered */
  size_t pend_head, pend_count;
  char error[160];
};

http_view *http_view_new(enum http_view_role role) {
  http_view *v = calloc(1, sizeof *v);
  if (!v) return NULL;
  v->head = malloc(HEAD_MAX);
  if (!v->head) {
    free(v);
    return NULL;
  }
  v->role = role;
  v->info.content_length = -1;
  return v;
}

void http_view_free(http_view *v) {
  if (!v) return;
  free(v->head);
  free(v);
}

const struct http_head *http_view_head(const http_view *v) { return &v->info; }
const char *http_view_error(const http_view *v) { return v->error; }

void http_view_push_request(http_view *v, int is_head) {
  if (v->pend_count == PENDING_MAX) return; /* deeper pipelining than we track: assume GET */
  v->pending[(v->pend_head + v->pend_count) % PENDING_MAX] = (unsigned char)(is_head != 0);
  v->pend_count++;
}

static int pop_request(http_view *v) {
  if (v->pend_count == 0) return 0;
  int h = v->pending[v->pend_head];
  v->pend_head = (v->pend_head + 1) % PENDING_MAX;
  v->pend_count--;
  return h;
}

static int set_error(http_view *v, const char *what) {
  snprintf(v->error, sizeof v->error, "http %s %u at stream byte %llu: %s",
           v->role == HTTP_VIEW_REQUESTS ? "request" : "response", v->msg,
           (unsigned long long)v->off, what);
  v->st = S_RAW;
  return -1;
}

static void copy_trim(char *dst, size_t dstsize, const char *s, size_t n) {
  while (n && (*s == ' ' || *s == '\t')) s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
  if (n >= dstsize) n = dstsize - 1;
  memcpy(dst, s, n);
  dst[n] = 0;
}

/* Parses v->head (head_len bytes, ending in an empty line). 0 or -1 (error set). */
static int parse_head(http_view *v) {
  struct http_head *h = &v->info;
  memset(h, 0, sizeof *h);
  h->content_length = -1;
  char *p = v->head, *end = v->head + v->head_len;
  while (p < end && (*p == '\r' || *p == '\n')) p++; /* leading empty lines are allowed */
  char *eol = memchr(p, '\n', (size_t)(end - p));
  if (!eol) return set_error(v, "no start line");
  size_t ll = (size_t)(eol - p);
  if (ll && p[ll - 1] == '\r') ll--;
  if (v->role == HTTP_VIEW_RESPONSES) {
    if (ll < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' || !isdigit((unsigned char)p[9]) ||
        !isdigit((unsigned char)p[10]) || !isdigit((unsigned char)p[11]) || (ll > 12 && p[12] != ' '))
      return set_error(v, "bad status line");
    h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
  } else {
    char *sp1 = memchr(p, ' ', ll);
    char *sp2 = sp1 ? memchr(sp1 + 1, ' ', ll - (size_t)(sp1 + 1 - p)) : NULL;
    if (!sp1 || !sp2 || sp1 == p || sp2 == sp1 + 1 || (size_t)(p + ll - (sp2 + 1)) != 8 ||
        memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
      return set_error(v, "bad request line");
    for (char *c = p; c < sp1; c++)
      if (!isupper((unsigned char)*c)) return set_error(v, "bad request method");
    copy_trim(h->method, sizeof h->method, p, (size_t)(sp1 - p));
    copy_trim(h->path, sizeof h->path, sp1 + 1, (size_t)(sp2 - sp1 - 1));
  }
  for (p = eol + 1; p < end;) {
    eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) break;
    ll = (size_t)(eol - p);
    if (ll && p[ll - 1] == '\r') ll--;
    if (ll == 0) break;
    char *colon = memchr(p, ':', ll);
    if (!colon || colon == p) return set_error(v, "bad header line (no name:)");
    for (char *c = p; c < colon; c++)
      if (*c == ' ' || *c == '\t') return set_error(v, "bad header name");
    size_t nl = (size_t)(colon - p);
    char val[256];
    copy_trim(val, sizeof val, colon + 1, ll - nl - 1);
    if (nl == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
      char *e;
      errno = 0;
      if (!isdigit((unsigned char)val[0])) return set_error(v, "bad Content-Length");
      long long cl = strtoll(val, &e, 10);
      if (errno || *e || cl < 0) return set_error(v, "bad Content-Length");
      if (h->content_length >= 0 && h->content_length != cl) return set_error(v, "conflicting Content-Length");
      h->content_length = cl;
    } else if (nl == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
      size_t vl = strlen(val);
      h->chunked = vl >= 7 && strcasecmp(val + vl - 7, "chunked") == 0;
    } else if (nl == 5 && strncasecmp(p, "Range", 5) == 0 && v->role == HTTP_VIEW_REQUESTS) {
      copy_trim(h->range, sizeof h->range, colon + 1, ll - nl - 1);
    }
    p = eol + 1;
  }
  if (v->role == HTTP_VIEW_RESPONSES) {
    if (h->status >= 200) {
      if (pop_request(v)) h->no_body = 1;
    } else {
      h->no_body = 1; /* 1xx: the real response follows */
    }
    if (h->status == 204 || h->status == 304) h->no_body = 1;
  } else if (!h->chunked && h->content_length <= 0) {
    h->no_body = 1;
  }
  return 0;
}

static void start_message(http_view *v) {
  v->st = S_HEAD;
  v->head_len = 0;
  v->line_start = 0;
  v->body_off = 0;
}

static void end_message(http_view *v, struct http_seg *seg) {
  seg->events |= HTTP_EV_END;
  v->msg++;
  start_message(v);
}

/* After a head: where the body goes. */
static void enter_body(http_view *v, struct http_seg *seg) {
  const struct http_head *h = &v->info;
  if (h->no_body) {
    if (v->role == HTTP_VIEW_RESPONSES && h->status < 200) {
      v->head_len = 0; /* 1xx is not the message: same index for the final response */
      v->line_start = 0;
      return;
    }
    end_message(v, seg);
  } else if (h->chunked) {
    v->st = S_CHUNK_SIZE;
    v->line_len = 0;
  } else if (h->content_length >= 0) {
    v->st = S_BODY_LEN;
    v->remaining = (uint64_t)h->content_length;
    if (v->remaining == 0) end_message(v, seg);
  } else {
    v->st = S_BODY_EOF;
  }
}

static size_t step_head(http_view *v, const uint8_t *data, size_t len, struct http_seg *seg) {
  seg->kind = HTTP_SEG_HEAD;
  size_t i = 0;
  while (i < len) {
    const uint8_t *nl = memchr(data + i, '\n', len - i);
    size_t take = nl ? (size_t)(nl - (data + i)) + 1 : len - i;
    if (v->head_len + take > HEAD_MAX) {
      set_error(v, "head longer than 64 KiB");
      seg->kind = HTTP_SEG_RAW;
      seg->events |= HTTP_EV_ERROR;
      return len;
    }
    memcpy(v->head + v->head_len, data + i, take);
    v->head_len += take;
    i += take;
    if (!nl) break;
    size_t line = v->head_len - v->line_start; /* includes the \n */
    int empty = line == 1 || (line == 2 && v->head[v->head_len - 2] == '\r');
    int only_empty_so_far = 1;
    for (size_t k = 0; k < v->line_start; k++)
      if (v->head[k] != '\r' && v->head[k] != '\n') {
        only_empty_so_far = 0;
        break;
      }
    v->line_start = v->head_len;
    if (empty && !only_empty_so_far) {
      if (parse_head(v) < 0) {
        seg->kind = HTTP_SEG_RAW;
        seg->events |= HTTP_EV_ERROR;
        return i;
      }
      seg->events |= HTTP_EV_HEAD;
      enter_body(v, seg);
      return i;
    }
  }
  return i;
}

/* Chunk-size line: "hex[;ext]\r\n". */
static size_t step_chunk_size(http_view *v, const uint8_t *data, size_t len, struct http_seg *seg) {
  seg->kind = HTTP_SEG_FRAMING;
  const uint8_t *nl = memchr(data, '\n', len);
  size_t take = nl ? (size_t)(nl - data) + 1 : len;
  if (v->line_len + take > LINE_MAX_) {
    set_error(v, "chunk-size line too long");
    seg->kind = HTTP_SEG_RAW;
    seg->events |= HTTP_EV_ERROR;
    return len;
  }
  memcpy(v->line + v->line_len, data, take);
  v->line_len += take;
  if (!nl) return take;
  uint64_t size = 0;
  size_t k = 0, digits = 0;
  for (; k < v->line_len && isxdigit((unsigned char)v->line[k]); k++, digits++) {
    if (size >> 60) {
      set_error(v, "chunk size overflow");
      seg->kind = HTTP_SEG_RAW;
      seg->events |= HTTP_EV_ERROR;
      return take;
    }
    int c = tolower((unsigned char)v->line[k]);
    size = size * 16 + (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
  }
  char c = k < v->line_len ? v->line[k] : 0;
  if (digits == 0 || (c != ';' && c != '\r' && c != '\n' && c != ' ' && c != '\t')) {
    set_error(v, "bad chunk-size line");
    seg->kind = HTTP_SEG_RAW;
    seg->events |= HTTP_EV_ERROR;
    return take;
  }
  v->line_len = 0;
  if (size == 0) {
    v->st = S_TRAILER;
    v->trailer_line_len = 0;
  } else {
    v->st = S_CHUNK_DATA;
    v->remaining = size;
  }
  return take;
}

size_t http_view_step(http_view *v, const uint8_t *data, size_t len, struct http_seg *seg) {
  memset(seg, 0, sizeof *seg);
  seg->off = v->off;
  seg->msg = v->msg;
  size_t n = 0;
  if (len == 0) return 0;
  switch (v->st) {
  case S_HEAD: n = step_head(v, data, len, seg); break;
  case S_BODY_LEN:
  case S_CHUNK_DATA:
    seg->kind = HTTP_SEG_BODY;
    seg->body_off = v->body_off;
    n = len < v->remaining ? len : (size_t)v->remaining;
    v->remaining -= n;
    v->body_off += n;
    if (v->remaining == 0) {
      if (v->st == S_BODY_LEN) {
        end_message(v, seg);
      } else {
        v->st = S_CHUNK_CRLF;
        v->crlf_seen = 0;
      }
    }
    break;
  case S_BODY_EOF:
    seg->kind = HTTP_SEG_BODY;
    seg->body_off = v->body_off;
    v->body_off += len;
    n = len;
    break;
  case S_CHUNK_SIZE: n = step_chunk_size(v, data, len, seg); break;
  case S_CHUNK_CRLF:
    seg->kind = HTTP_SEG_FRAMING;
    while (n < len && v->crlf_seen < 2) {
      char want = v->crlf_seen == 0 ? '\r' : '\n';
      if ((char)data[n] != want) {
        set_error(v, "chunk data not followed by CRLF");
        seg->kind = HTTP_SEG_RAW;
        seg->events |= HTTP_EV_ERROR;
        n = len;
        break;
      }
      v->crlf_seen++;
      n++;
    }
    if (v->crlf_seen == 2 && v->st == S_CHUNK_CRLF) {
      v->st = S_CHUNK_SIZE;
      v->line_len = 0;
    }
    break;
  case S_TRAILER:
    seg->kind = HTTP_SEG_FRAMING;
    while (n < len) {
      char c = (char)data[n++];
      if (c == '\n') {
        if (v->trailer_line_len == 0) {
          end_message(v, seg);
          break;
        }
        v->trailer_line_len = 0;
      } else if (c != '\r') {
        v->trailer_line_len++;
      }
    }
    break;
  case S_RAW:
    seg->kind = HTTP_SEG_RAW;
    n = len;
    break;
  }
  if (n == 0) n = 1 > len ? len : 1; /* never reached; keeps progress guaranteed */
  seg->len = n;
  v->off += n;
  return n;
}

uint64_t http_view_blind(const http_view *v, int *is_body) {
  *is_body = v->st != S_RAW;
  switch (v->st) {
  case S_BODY_LEN:
  case S_CHUNK_DATA: return v->remaining;
  case S_BODY_EOF:
  case S_RAW: return UINT64_MAX;
  default: *is_body = 0; return 0;
  }
}

int http_view_skip(http_view *v, size_t len) {
  int is_body;
  if (len > http_view_blind(v, &is_body)) return -1;
  /* in these states http_view_step() counts bytes and never reads them */
  while (len > 0) {
    struct http_seg seg;
    len -= http_view_step(v, NULL, len, &seg);
  }
  return 0;
}

int http_view_eof(http_view *v) {
  switch (v->st) {
  case S_HEAD:
    if (v->head_len == 0) return 0;
    return set_error(v, "stream ended inside a head");
  case S_BODY_EOF: v->st = S_HEAD; v->msg++; return 0;
  case S_RAW: return 0;
  default: return set_error(v, "stream ended inside a body (truncated)");
  }
}
