/* errmsg: writes an error message that may be cut to fit its buffer.
 * Cutting a long path is fine for a message; this says so to the compiler,
 * whose truncation warnings are errors here. */
#ifndef OTAHIL_EMU_ERRMSG_H
#define OTAHIL_EMU_ERRMSG_H

#include <stddef.h>

/* Formats into `buf` (always NUL-terminated when `len` > 0). */
void errmsg(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
