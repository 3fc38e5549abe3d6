/* console: one capture of a device's serial console, delivered as lines.
 *
 * The capture starts when the console is opened (before power-on) and lives as
 * long as the device: a process device's pseudo-terminal stays open across power
 * cycles, so no byte is lost when the device restarts. '\r' is dropped; a line
 * is delivered on '\n', or when the console is flushed (e.g. at power off). */
#ifndef OTAHIL_UART_CONSOLE_H
#define OTAHIL_UART_CONSOLE_H

#include <stddef.h>
#include <uv.h>

typedef struct console console;

/* Called for each complete line, without its line ending (not NUL-terminated
 * beyond len; line[len] is 0). */
typedef void (*console_line_cb)(void *arg, const char *line, size_t len);

/* Opens a pseudo-terminal in raw mode. *slave_fd is the device side, to give to
 * the child as stdin/stdout/stderr; the console keeps its own copy open so the
 * master never sees a hang-up between power cycles. Returns 0 or -1 with err. */
int console_open_pty(uv_loop_t *loop, console_line_cb cb, void *arg, console **out,
                     int *slave_fd, char *err, size_t errlen);

/* Writes bytes to the device (its stdin). Returns 0 or -1. */
int console_write(console *c, const void *data, size_t len);

/* Delivers a pending partial line, if any. */
void console_flush(console *c);

/* Total bytes captured so far. */
size_t console_bytes(const console *c);

/* Stops capturing, closes the terminal, frees asynchronously. */
void console_close(console *c);

#endif
