/* appendf: printf onto the end of a fixed buffer (see appendf.h). */
#include "appendf.h"

#include <stdarg.h>
#include <stdio.h>

void netem_appendf(char *buf, size_t size, size_t *n, const char *fmt, ...) {
  if (*n >= size) return;
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(buf + *n, size - *n, fmt, ap);
  va_end(ap);
  if (w > 0) *n += (size_t)w;
}
