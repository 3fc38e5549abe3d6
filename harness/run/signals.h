/* signals: SIGINT and SIGTERM from main's first line to the exit.
 *
 * A signal must never end otahil with 130 or 143 and no reports: before the
 * runner's loop watches them (libuv's signal handles) and after it has closed
 * them, a handler of ours records the signal instead. The runner asks whether
 * one came before it took over (and then stops at once, as for Ctrl-C during
 * the run); one that comes after the summary changes nothing (the run's
 * outcome and reports are final): it is said and ignored.
 * (The recorded signal is process-wide state by nature: the one global here.) */
#ifndef OTAHIL_SIGNALS_H
#define OTAHIL_SIGNALS_H

/* Installs the recording handler for SIGINT and SIGTERM (main's first call;
 * again after the loop's own handles are closed). */
void signals_install(void);

/* The first SIGINT/SIGTERM recorded since signals_install, or 0; clears it. */
int signals_take(void);

#endif
