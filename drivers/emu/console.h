/* console: the device's UART console, which is stdout.
 *
 * Every line starts with "[otadev] " so a transcript shows who spoke. The
 * harness runs otadev on a pseudo-terminal and logs each line, so a line must
 * be complete when it is written: console_log writes it in one locked call,
 * safe from any thread.
 */
#ifndef OTAHIL_EMU_CONSOLE_H
#define OTAHIL_EMU_CONSOLE_H

/* Prints one console line (printf format, no trailing newline needed). */
void console_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
