/* live: what a running case shows while it runs.
 *
 * Its log file (logs/<case>.log) exists from the case's start and gets the
 * case's new events every second (at most 20000 a second), so `tail -f` follows it; when the case ends the
 * outcome line is appended, then record() replaces the file with the final log
 * (outcome first). Its raw console (logs/<case>.console) grows the same way.
 * With -v every event is also printed (every second), prefixed with the case
 * id. On a terminal, one status line per running case (id, elapsed, its last
 * meaningful events) is redrawn in place under the results; otherwise a line
 * when a case starts and a heartbeat every 30 s while it runs. */
#ifndef OTAHIL_LIVE_H
#define OTAHIL_LIVE_H

#include "run_internal.h"

void live_init(runner *rn);  /* the status timer; tty or not */
void live_close(runner *rn); /* stops and closes the timer (teardown) */

void live_case_start(kase *k); /* after the case's log exists */
/* The case is over: its last events and `outcome_line` go to the live file. */
void live_case_end(kase *k, const char *outcome_line);

/* Around a permanent line on stdout (record's): the status lines go and come back. */
void live_hide(runner *rn);
void live_show(runner *rn);

#endif
