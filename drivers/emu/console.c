#include <stdarg.h>
#include <stdio.h>

#include "console.h"

void console_log(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  /* One lock around prefix, text and newline keeps lines whole when the
   * MQTT thread and the main thread print at once. */
  flockfile(stdout);
  fputs("[otadev] ", stdout);
  vfprintf(stdout, fmt, ap);
  fputc('\n', stdout);
  fflush(stdout);
  funlockfile(stdout);
  va_end(ap);
}
