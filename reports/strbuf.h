/* strbuf: a growable text buffer and the escapers the report writers share.
 * Internal to reports/ (the writers build each file in memory, then write it
 * atomically). An allocation failure sets `oom` and later appends do nothing,
 * so callers check once at the end. */
#ifndef OTAHIL_STRBUF_H
#define OTAHIL_STRBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct strbuf {
  char *p;    /* NUL terminated when len > 0 or after sb_init; owned by the buffer */
  size_t len;
  size_t cap;
  int oom;
} strbuf;

void sb_init(strbuf *b);
void sb_free(strbuf *b);
void sb_add(strbuf *b, const char *s, size_t n);
void sb_puts(strbuf *b, const char *s);
void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends `s` escaped for XML 1.0 (and HTML) text or attribute values:
 * & < > " ' become entities, tab/LF/CR become character references (so they
 * survive in attributes), and what XML 1.0 cannot hold at all (other control
 * characters, U+FFFE/U+FFFF, invalid UTF-8 bytes) becomes U+FFFD. */
void sb_xml(strbuf *b, const char *s);

/* Appends `s` for a one-line text log: control bytes as \n \r \t or \xNN,
 * bytes that are not valid UTF-8 as \xNN; everything else as is. */
void sb_line(strbuf *b, const char *s);

/* Length of the valid UTF-8 sequence at s (1..4, n bytes available) and its
 * code point, or 0 if the bytes there are not valid UTF-8 (overlong forms,
 * surrogates and values above U+10FFFF are invalid). */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* A malloc'd copy of s with each invalid UTF-8 byte replaced by U+FFFD, or
 * NULL if out of memory. The caller frees it. */
char *utf8_sanitize(const char *s);

#endif
