/* uart_transport: how the console core drives one kind of port. Private to
 * drivers/uart: uart_console.c is the only user, each transport file the only
 * implementation of its kind. */
#ifndef OTAHIL_UART_TRANSPORT_H
#define OTAHIL_UART_TRANSPORT_H

#include <stddef.h>
#include <uv.h>

#include "uart_console.h"

/* Most bytes a transport reads per wake-up of the loop: a device that writes
 * faster than we read (a flood) never makes a read loop hold the loop; the
 * rest is read on the next turn (the poll is level-triggered). libuv's own
 * stream reads (tcp, telnet) stop after 32 reads per wake-up, 512 KiB with
 * their 16 KiB buffer. */
#define UART_READ_BUDGET (64 * 1024)

typedef struct uart_tx uart_tx;

typedef struct uart_tx_ops {
  /* Starts opening the port. Returns 0 when it is open (the core marks it up),
   * 1 when opening goes on (the transport calls console__up or console__failed
   * later), -1 with err when it failed (the core retries). */
  int (*open)(uart_tx *t, char *err, size_t errlen);
  /* Returns 0, or -1 with err. */
  int (*write)(uart_tx *t, const void *data, size_t len, char *err, size_t errlen);
  /* Reads what is pending now (for a flush); may be NULL. */
  void (*drain)(uart_tx *t);
  /* Closes the port; it may be opened again. */
  void (*close)(uart_tx *t);
  /* Closes and frees once the loop has released the transport's handles. */
  void (*destroy)(uart_tx *t);
} uart_tx_ops;

/* The first member of every transport's struct. */
struct uart_tx {
  const uart_tx_ops *ops;
  console *con;
  uv_loop_t *loop;
};

/* What transports report to the core. */
void console__data(console *c, const char *data, size_t len);
void console__up(console *c);                    /* an open that went on succeeded */
void console__failed(console *c, const char *why); /* an open that went on failed */
void console__lost(console *c, const char *why); /* an open port went away; already closed */

/* Constructors; each fills `desc` (for console_describe). */
uart_tx *uart_pty_new(uv_loop_t *loop, console *con, int *slave_fd, char *desc, size_t desclen,
                      char *err, size_t errlen);
uart_tx *uart_serial_new(uv_loop_t *loop, console *con, const console_config *cfg, char *desc,
                         size_t desclen, char *err, size_t errlen);
uart_tx *uart_tcp_new(uv_loop_t *loop, console *con, const console_config *cfg, char *desc,
                      size_t desclen, char *err, size_t errlen);
uart_tx *uart_telnet_new(uv_loop_t *loop, console *con, const console_config *cfg, char *desc,
                         size_t desclen, char *err, size_t errlen);

#endif
