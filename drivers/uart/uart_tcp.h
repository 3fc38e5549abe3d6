/* uart_tcp: the tcp transport with a byte filter between the socket and the
 * console, for transports that are TCP plus a protocol (telnet). Private to
 * drivers/uart. The tcp transport keeps its connect, probation and reconnect
 * logic; the filter only sees bytes, and never does I/O itself. */
#ifndef OTAHIL_UART_TCP_H
#define OTAHIL_UART_TCP_H

#include <stddef.h>

#include "uart_transport.h"

typedef struct uart_tcp_filter {
  void *arg;
  /* A new connection is up (before its first byte): forget the last one. */
  void (*reset)(void *arg);
  /* Filters received bytes in place; returns how many are console data. */
  size_t (*recv)(void *arg, char *data, size_t len);
  /* Encodes console data for the wire into `out` (room for 2 * len); returns
   * the encoded length. */
  size_t (*encode)(void *arg, const char *in, size_t len, char *out);
  /* Bytes the filter wants sent to the server now (answers), or NULL; `sent`
   * drops them once they are handed to the socket. Asked after reset and after
   * every recv. */
  const char *(*pending)(void *arg, size_t *len);
  void (*sent)(void *arg);
  /* At the end of the probation: 0 when the connection is usable, else -1 with
   * why (the transport adds host:port, fails the open and retries). May be NULL. */
  int (*ready)(void *arg, char *why, size_t whylen);
  /* Frees arg, with the transport. */
  void (*free)(void *arg);
} uart_tcp_filter;

/* A tcp transport whose bytes go through `filter` (copied; NULL: raw). `kind`
 * names it in messages and in desc ("telnet"). Checks host and tcp_port as
 * uart_tcp_new does; on failure the filter is freed. */
uart_tx *uart_tcp_new_filtered(uv_loop_t *loop, console *con, const console_config *cfg, const char *kind,
                               const uart_tcp_filter *filter, char *desc, size_t desclen, char *err,
                               size_t errlen);

#endif
