/* appendf: printf onto the end of a fixed buffer, for one-line descriptions.
 *
 * *n is the length written so far; text that does not fit is cut (the buffer stays
 * terminated) and later calls then do nothing. */
#ifndef OTAHIL_NETEM_APPENDF_H
#define OTAHIL_NETEM_APPENDF_H

#include <stddef.h>

void netem_appendf(char *buf, size_t size, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
