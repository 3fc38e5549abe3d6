/* uart_match: finds a pattern in a console's raw stream, from a reader's cursor.
 *
 * A pattern is a POSIX extended regex (regcomp with REG_EXTENDED | REG_NEWLINE:
 * '.' and '[^...]' do not cross a line end, '^' and '$' match at line starts and
 * before "\n") or plain text. The search covers every byte from the cursor to the
 * end of the capture as one run, so a match that arrived split over many reads,
 * or one byte at a time, is found. Because more bytes may still come, '$' never
 * matches at the end of the bytes captured so far; consoles end lines with
 * "\r\n", so write the end of a line as "\r?$". A regex matches within one line
 * unless it contains a newline character itself.
 */
#ifndef OTAHIL_UART_MATCH_H
#define OTAHIL_UART_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "uart_capture.h"

typedef struct uart_match uart_match;

/* A match or a capture group: stream offsets [start, end); set = 0 for a group
 * that took no part in the match. */
typedef struct uart_span {
  uint64_t start, end;
  int set;
} uart_span;

/* Compiles `pattern` (len bytes; plain text may hold any byte). Returns 0, or -1
 * with err (a bad regex, with regerror's text). */
int uart_match_new(const char *pattern, size_t len, int plain, uart_match **out, char *err,
                   size_t errlen);
void uart_match_free(uart_match *m);

/* 1 + the number of capture groups (plain text: 1). */
size_t uart_match_groups(const uart_match *m);

/* Searches the capture from *cursor. On a match, fills up to nspans spans (the
 * whole match first, then the groups), moves *cursor to the end of the match and
 * returns 1. Returns 0 if nothing matches yet; the matcher remembers how far it
 * looked, so the next call with the same cursor reads only what is new. A cursor
 * behind the bytes still held moves up to them. */
int uart_match_next(uart_match *m, const uart_capture *c, uint64_t *cursor, uart_span *spans,
                    size_t nspans);

#endif
