/* uart_capture: the raw byte stream of one console, kept in memory.
 *
 * Bytes are addressed by their offset in the stream since the capture began
 * (a uint64_t that never wraps). Readers are plain cursors (offsets) held by
 * whoever reads, so any number of them read the same bytes independently. The
 * bytes held are always contiguous in memory, so a matcher sees a message that
 * arrived in many reads as one run of bytes.
 *
 * Memory is bounded: uart_capture_forget() drops bytes no reader needs any more,
 * and past `limit` bytes the oldest are dropped (uart_capture_start() tells where
 * the bytes still held begin).
 */
#ifndef OTAHIL_UART_CAPTURE_H
#define OTAHIL_UART_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

typedef struct uart_capture uart_capture;

/* limit: most bytes held at once (0 = 64 MiB). Never returns NULL (aborts on
 * out of memory, like the rest of the capture). */
uart_capture *uart_capture_new(size_t limit);
void uart_capture_free(uart_capture *c);

void uart_capture_append(uart_capture *c, const void *data, size_t len);

/* Offset of the next byte to arrive (= bytes captured so far). */
uint64_t uart_capture_end(const uart_capture *c);
/* Offset of the oldest byte still held. */
uint64_t uart_capture_start(const uart_capture *c);

/* The bytes from `from` (clamped to what is held) to the end: returns a pointer
 * valid until the next append or forget, with their count in *len and the
 * offset actually used in *at (if not NULL). */
const char *uart_capture_peek(const uart_capture *c, uint64_t from, size_t *len, uint64_t *at);

/* Drops the bytes before `offset` (readers behind it then start at it). */
void uart_capture_forget(uart_capture *c, uint64_t offset);

/* Writes the last `max_lines` lines before the end (the unfinished one
 * included), without "\r", non-printable bytes as '.', separated by " | " and
 * each cut at 120 bytes, into out (always NUL-terminated). For messages. */
void uart_capture_tail(const uart_capture *c, uint64_t from, int max_lines, char *out, size_t outlen);

#endif
