/* api_uart: a device's serial console in a scenario, as `t.device.uart`.
 *
 * The console is captured for the whole run (drivers/uart); a uart object is a
 * reader of that raw byte stream with its own cursor, so one helper's waits
 * never consume what another waits for. t.device.uart starts at the first byte
 * of the case.
 *
 *   uart:expect(pattern [, {timeout = 10, plain = false}]) -> match, capture1, ...
 *       Waits until `pattern` (a POSIX extended regex, or plain text with
 *       plain = true) appears in the stream after the cursor, and moves the
 *       cursor past it. The stream is searched as one run of bytes, so a match
 *       that came split over many reads, or a byte at a time, is found. Lines
 *       end in "\r\n" on most consoles: write a line end as "\r?$". A capture
 *       group that took no part is nil. On timeout: FAIL with the pattern, the
 *       last lines seen and the case's log path.
 *   uart:send(text [, {char_delay = 0}]) -> true | nil, why
 *       Writes to the device; char_delay (seconds) paces a slow receiver, one
 *       byte at a time, yielding in between. A port that is down is `nil, why`.
 *   uart:settle(quiet_ms [, {timeout = 10}]) -> true | nil, "timeout"
 *       Returns once no byte has come for quiet_ms (counted from the call at
 *       the earliest).
 *   uart:reader([{from = "here" | "start" | "now"}]) -> a new uart object
 *       with its own cursor: at this one's cursor (default), at the case's
 *       first byte, or at the end of what has come so far.
 *   uart:skip()      moves the cursor to the end of what has come so far
 *   uart:cursor()    -> the cursor, in bytes since the case's first byte
 *
 * Death patterns (the lab's console.death) are watched during every case by a
 * background task: when one shows on the console, the scenario FAILs at once
 * with the line ("console.death" event). Matches and sends are events too
 * ("uart.match", "uart.send"). Timeouts scale with --timeout-multiplier.
 */
#ifndef OTAHIL_API_UART_H
#define OTAHIL_API_UART_H

#include <cjson/cJSON.h>
#include <lua.h>
#include <stdint.h>

#include "uart_console.h"

/* Pushes the uart object of `device` (a name that outlives the case) for the
 * scenario state L, reading from `case_start`, and starts the death watch when
 * `death` (the lab's checked console.death array) is not NULL. The console must
 * outlive the scenario state. */
void api_uart_push(lua_State *L, console *con, const char *device, uint64_t case_start,
                   const cJSON *death);

#endif
