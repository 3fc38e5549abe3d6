/* console: one capture of a device's serial console, for the whole run.
 *
 * The capture starts when the console is opened (when the run starts, before
 * power-on) and lives as long as the device, across power cycles. It keeps the
 * raw byte stream (uart_capture.h: readers with their own cursors, matchers in
 * uart_match.h), and also delivers it as lines ('\r' dropped; a line ends at
 * '\n' or when the console is flushed).
 *
 * Transports (one file each):
 *   pty     a pseudo-terminal for a process device (uart_pty.c): the device's
 *           stdin/stdout/stderr are its slave side; the console holds both
 *           sides, so the terminal never hangs up between power cycles;
 *   serial  a local serial port (uart_serial.c, libserialport): port, baud,
 *           parity, data bits, stop bits, flow control;
 *   tcp     raw TCP to a console server such as ser2net (uart_tcp.c);
 *   telnet  the same over telnet (RFC 854; ser2net's telnet accepter): the
 *           protocol's commands kept out of the capture, 0xFF sent doubled,
 *           and with a baud the rate set through RFC 2217 (uart_telnet.c).
 * When a serial, tcp or telnet port goes away (a USB-serial adapter
 * re-enumerating when the board loses power, ser2net restarting), the console
 * reopens it every `retry_s` on the loop, never blocking, and reports the gap (down, then up
 * with the times and the stream offset where the gap sits).
 *
 * Floods: a device that writes without pause can cost CPU, never the loop.
 * Each transport reads at most UART_READ_BUDGET bytes per wake-up of the loop
 * (the rest waits for the next turn, after timers and signals), and what is
 * captured is capped by a budget: `cap_bytes` at once, refilled at `cap_rate`
 * bytes per second. Bytes beyond it are read and dropped (never captured,
 * matched or delivered as lines), and counted: console_dropped(). The owner
 * refills the budget with console_budget_reset() when a case starts, so each
 * case may capture cap_bytes plus cap_rate for each second it runs, and logs
 * console_dropped()'s growth over the case (the harness's `console.dropped`).
 */
#ifndef OTAHIL_UART_CONSOLE_H
#define OTAHIL_UART_CONSOLE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "uart_capture.h"

typedef struct console console;

typedef enum { CONSOLE_PTY = 0, CONSOLE_SERIAL, CONSOLE_TCP, CONSOLE_TELNET } console_transport;

typedef struct console_config {
  console_transport transport;
  /* serial */
  const char *port;  /* "/dev/ttyUSB0", or any path to a terminal (a symlink to a pty) */
  int baud;          /* serial: 0 = 115200; telnet: 0 = not set, else RFC 2217 */
  char parity;       /* 'n' (0 = 'n'), 'o', 'e', 'm' (mark), 's' (space) */
  int data_bits;     /* 5..8; 0 = 8 */
  int stop_bits;     /* 1 or 2; 0 = 1 */
  const char *flow;  /* "none" (NULL), "xonxoff", "rtscts", "dtrdsr" */
  /* tcp and telnet */
  const char *host;  /* name or address */
  int tcp_port;
  double retry_s;    /* reopen period; 0 = 0.25 s */
  size_t limit;      /* most bytes held in memory; 0 = 64 MiB */
  /* the flood guard (see above): 0 = 16 MiB, and 1 MiB/s; SIZE_MAX and
   * INFINITY turn it off */
  size_t cap_bytes;
  double cap_rate;
} console_config;

/* A gap: the port was away from down_at to up_at (seconds, uv_hrtime's clock),
 * and `offset` bytes had been captured before it. */
typedef struct console_gap {
  double down_at, up_at;
  uint64_t offset;
  const char *why; /* why it went down */
} console_gap;

typedef struct console_callbacks {
  void (*line)(void *arg, const char *line, size_t len);  /* line[len] is 0 */
  void (*down)(void *arg, const char *why, uint64_t offset); /* may be NULL */
  void (*up)(void *arg, const console_gap *gap);           /* after a gap; may be NULL */
  void *arg;
} console_callbacks;

/* Opens the console. A pty opens at once (or fails with err); a serial, tcp or telnet
 * port that is not there yet is retried, so only a bad config fails here.
 * Returns 0 or -1 with err. The callbacks are copied. */
int console_open(uv_loop_t *loop, const console_config *cfg, const console_callbacks *cb,
                 console **out, char *err, size_t errlen);

/* pty: the device side, for the child's stdin/stdout/stderr; -1 otherwise. */
int console_slave_fd(const console *c);

/* "pty /dev/pts/3", "serial /dev/ttyUSB0", "tcp 127.0.0.1:2000",
 * "telnet 127.0.0.1:2000": for messages. */
const char *console_describe(const console *c);

/* Writes bytes to the device. Returns 0, or -1 with err (the port is down, or
 * the device does not read its console and the buffer is full). */
int console_send(console *c, const void *data, size_t len, char *err, size_t errlen);

/* Reads what the port holds now and delivers a pending partial line. */
void console_flush(console *c);

/* The raw stream (owned by the console). */
uart_capture *console_capture(console *c);
uint64_t console_bytes(const console *c);
/* uv_hrtime's clock, in seconds, of the last byte received (0: none yet). */
double console_last_rx(const console *c);
int console_is_up(const console *c);
/* Bytes the flood guard dropped since the console opened (never decreases). */
uint64_t console_dropped(const console *c);
/* Refills the flood guard's budget to cap_bytes (a case starts). */
void console_budget_reset(console *c);
/* Why the port is away now (the last failed open or the loss, e.g. "127.0.0.1:
 * 2000: connection refused"), or NULL while it is up. Owned by the console. */
const char *console_down_why(const console *c);

/* Called after each run of new bytes is captured (any number of listeners),
 * e.g. to wake waits on the stream. */
typedef struct console_listener console_listener;
console_listener *console_listen(console *c, void (*fn)(void *arg), void *arg);
void console_unlisten(console *c, console_listener *l);

/* Stops capturing, closes the port, frees asynchronously (the loop must run). */
void console_close(console *c);

#endif
