/* deflate64: text packed for an HTML page: zlib-deflated (RFC 1950, what the
 * browser's DecompressionStream("deflate") reads), then base64 (RFC 4648).
 * Internal to reports/. */
#ifndef OTAHIL_DEFLATE64_H
#define OTAHIL_DEFLATE64_H

#include <stddef.h>

#include "strbuf.h"

/* Appends base64(deflate(data[0..n))) to b; sets b->oom on failure. */
void deflate64_append(strbuf *b, const char *data, size_t n);

/* Appends base64 of data[0..n) to b. */
void base64_append(strbuf *b, const unsigned char *data, size_t n);

#endif
