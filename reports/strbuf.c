/* strbuf: growable text and the escapers of the report writers. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */

void sb_init(strbuf *b) {
  b->p = NULL;
  b->len = b->cap = 0;
  b->oom = 0;
}

void sb_free(strbuf *b) {
  free(b->p);
  sb_init(b);
}

static int sb__reserve(strbuf *b, size_t extra) {
  if (b->oom) return -1;
  if (b->len + extra + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1) {
    if (cap > SIZE_MAX / 2) {
      b->oom = 1;
      return -1;
    }
    cap *= 2;
  }
  char *p = realloc(b->p, cap);
  if (!p) {
    b->oom = 1;
    return -1;
  }
  b->p = p;
  b->cap = cap;
  return 0;
}

void sb_add(strbuf *b, const char *s, size_t n) {
  if (sb__reserve(b, n) != 0) return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void sb_puts(strbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

void sb_printf(strbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = 1;
    return;
  }
  if ((size_t)n < sizeof small) {
    sb_add(b, small, (size_t)n);
    return;
  }
  if (sb__reserve(b, (size_t)n) != 0) return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
  if (n == 0) return 0;
  unsigned char c = s[0];
  size_t len;
  uint32_t v, min;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    len = 2, v = c & 0x1F, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, v = c & 0x0F, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, v = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (s[i] & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return len;
}

static int xml_char_ok(uint32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
         (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

void sb_xml(strbuf *b, const char *str) {
  const unsigned char *s = (const unsigned char *)str;
  size_t n = strlen(str);
  size_t i = 0;
  while (i < n) {
    uint32_t cp = 0;
    size_t k = utf8_decode(s + i, n - i, &cp);
    if (k == 0 || !xml_char_ok(cp)) {
      sb_puts(b, REPLACEMENT);
      i += k ? k : 1;
      continue;
    }
    switch (cp) {
    case '&': sb_puts(b, "&amp;"); break;
    case '<': sb_puts(b, "&lt;"); break;
    case '>': sb_puts(b, "&gt;"); break;
    case '"': sb_puts(b, "&quot;"); break;
    case '\'': sb_puts(b, "&#39;"); break;
    case '\t': sb_puts(b, "&#9;"); break;
    case '\n': sb_puts(b, "&#10;"); break;
    case '\r': sb_puts(b, "&#13;"); break;
    default: sb_add(b, (const char *)s + i, k); break;
    }
    i += k;
  }
}

void sb_line(strbuf *b, const char *str) {
  const unsigned char *s = (const unsigned char *)str;
  size_t n = strlen(str);
  size_t i = 0;
  while (i < n) {
    uint32_t cp = 0;
    size_t k = utf8_decode(s + i, n - i, &cp);
    if (k == 0) {
      sb_printf(b, "\\x%02X", s[i]);
      i++;
      continue;
    }
    if (cp == '\n') sb_puts(b, "\\n");
    else if (cp == '\r') sb_puts(b, "\\r");
    else if (cp == '\t') sb_puts(b, "\\t");
    else if (cp < 0x20 || cp == 0x7F) sb_printf(b, "\\x%02X", (unsigned)cp);
    else if (cp >= 0x80 && cp < 0xA0) sb_printf(b, "\\u%04X", (unsigned)cp); /* C1 controls */
    else sb_add(b, (const char *)s + i, k);
    i += k;
  }
}

char *utf8_sanitize(const char *str) {
  strbuf b;
  sb_init(&b);
  const unsigned char *s = (const unsigned char *)str;
  size_t n = strlen(str);
  size_t i = 0;
  sb_add(&b, "", 0);
  while (i < n) {
    uint32_t cp;
    size_t k = utf8_decode(s + i, n - i, &cp);
    if (k == 0) {
      sb_puts(&b, REPLACEMENT);
      i++;
    } else {
      sb_add(&b, str + i, k);
      i += k;
    }
  }
  if (b.oom) {
    sb_free(&b);
    return NULL;
  }
  return b.p;
}
