/* http_view: an incremental HTTP/1.x framer for one direction of one connection.
 *
 * It never changes or holds back bytes: each call to http_view_step() consumes a prefix
 * of what it is given and says what those bytes are (head, body, chunk framing), where
 * they are (stream offset, body offset, message index) and whether a message head or a
 * whole message ended there. The result is the same however the stream is split.
 * After malformed input the view reports one error and then calls everything RAW.
 */
#ifndef OTAHIL_HTTP_VIEW_H
#define OTAHIL_HTTP_VIEW_H

#include <stddef.h>
#include <stdint.h>

enum http_view_role { HTTP_VIEW_REQUESTS, HTTP_VIEW_RESPONSES };

enum http_seg_kind {
  HTTP_SEG_HEAD,    /* start line and header fields */
  HTTP_SEG_BODY,    /* message body bytes (chunk data only, for chunked bodies) */
  HTTP_SEG_FRAMING, /* chunk-size lines, chunk CRLFs, trailers */
  HTTP_SEG_RAW      /* after an error: not parsed */
};

/* Flags in http_seg.events, true at the END of the segment. */
#define HTTP_EV_HEAD 1  /* a head is complete: see http_view_head() */
#define HTTP_EV_END 2   /* a message is complete */
#define HTTP_EV_ERROR 4 /* malformed input: see http_view_error(); the segment is RAW */

struct http_seg {
  enum http_seg_kind kind;
  size_t len;        /* input bytes this segment covers (>= 1) */
  uint64_t off;      /* stream offset of its first byte */
  uint64_t body_off; /* BODY: body offset of its first byte within the message */
  uint32_t msg;      /* 0-based message index on this connection */
  int events;        /* HTTP_EV_* */
};

struct http_head {
  char method[16];        /* requests */
  char path[1024];        /* requests (truncated if longer) */
  char range[128];        /* requests: the Range header value, "" if none */
  int status;             /* responses */
  int64_t content_length; /* -1 if none */
  int chunked;
  int no_body;            /* HEAD response, 1xx, 204, 304, request without a body */
};

typedef struct http_view http_view;

/* A new view (owned by the caller, free with http_view_free()). NULL on out of memory. */
http_view *http_view_new(enum http_view_role role);
void http_view_free(http_view *v);

/* Consumes 1..len bytes (len > 0) of data and describes them in *seg. Returns the
 * number of bytes consumed (== seg->len). */
size_t http_view_step(http_view *v, const uint8_t *data, size_t len, struct http_seg *seg);

/* How many of the next bytes are known to be body (or unparsed) bytes that the view
 * does not need to see: the rest of a Content-Length body or of a chunk, UINT64_MAX for
 * a body delimited by the close or after an error, 0 while a head or chunk framing is
 * next. *is_body says whether they are body bytes. Lets a caller forward them unseen. */
uint64_t http_view_blind(const http_view *v, int *is_body);

/* Consumes len bytes unseen (len <= http_view_blind()): the same state as http_view_step()
 * over them. Returns 0, or -1 (nothing consumed) if len is more than that. */
int http_view_skip(http_view *v, size_t len);

/* The end of the stream. Returns 0, or -1 if it cut a message short (then
 * http_view_error() says so); a body delimited by the close ends normally. */
int http_view_eof(http_view *v);

/* Responses: tells the view the method of the next request (in order), so that the
 * response to HEAD is known to have no body. */
void http_view_push_request(http_view *v, int is_head);

/* The last complete head (valid after HTTP_EV_HEAD until the next one). */
const struct http_head *http_view_head(const http_view *v);
const char *http_view_error(const http_view *v);

#endif
