/* lab_console: the `console` table of a lab device, checked and made a config.
 *
 *   console = {
 *     transport = "pty" | "serial" | "tcp" | "telnet",
 *                 -- default: "serial" if port is given, "tcp" if tcp_port is, else "pty"
 *     -- serial (a local port, libserialport):
 *     port = "/dev/ttyUSB0", baud = 115200, parity = "none" | "odd" | "even" | "mark" | "space",
 *     data_bits = 8, stop_bits = 1, flow = "none" | "xonxoff" | "rtscts" | "dtrdsr",
 *     -- tcp (raw TCP to ser2net or another console server):
 *     host = "127.0.0.1", tcp_port = 2000,
 *     -- telnet (ser2net's `accepter: telnet,...`): host and tcp_port as tcp,
 *     -- and optionally baud = 115200 to set the rate through RFC 2217
 *     -- (`telnet(rfc2217)`); without baud, 2217 is not negotiated.
 *     retry = 0.25,                            -- seconds between reopen attempts
 *     death = { "Kernel panic", "Guru Meditation", { re = "Oops: [0-9a-f]+" } },
 *   }
 *
 * A process device's console is a pty unless the table says otherwise; a pty
 * takes no port settings. `death` lists texts (plain) or { re = "..." } (POSIX
 * extended regex) that fail the running scenario at once when the console shows
 * them. A device without a console table gets { transport = "pty" }.
 */
#ifndef OTAHIL_LAB_CONSOLE_H
#define OTAHIL_LAB_CONSOLE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "uart_console.h"

/* Checks and completes spec.console (defaults filled in). Returns 0, or -1 with
 * err naming the key: "console.transport 'usb' is unknown (pty, serial, tcp, telnet)".
 * The caller adds where (file:line, device). */
int lab_console_check(cJSON *spec, char *err, size_t errlen);

/* The console config of a checked device spec; strings point into the spec. */
void lab_console_config(const cJSON *spec, console_config *out);

/* The checked death list (an array), or NULL when there is none. */
const cJSON *lab_console_death(const cJSON *spec);

#endif
