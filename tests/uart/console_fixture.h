/* console_fixture: what the console tests (test_uart_console.c, test_telnet.c)
 * share: one libuv loop per test case whose waits all have a deadline scaled
 * by OTAHIL_TIMEOUT_MULTIPLIER, a record of a console's callbacks, and a
 * console server on 127.0.0.1 (raw TCP or telnet, as ser2net's accepters are).
 *
 * Link console_fixture.c with the test; use fixture_setup/fixture_teardown as
 * the Check fixture. Test code, so the structs are open: tests read them. */
#ifndef OTAHIL_TESTS_CONSOLE_FIXTURE_H
#define OTAHIL_TESTS_CONSOLE_FIXTURE_H

#include <stddef.h>
#include <uv.h>

#include "uart_console.h"

/* The test case's loop: fixture_setup initialises it, fixture_teardown asserts
 * that closing it leaves no handle open. */
extern uv_loop_t test_loop;
void fixture_setup(void);
void fixture_teardown(void);

/* What a console reported through its callbacks. */
typedef struct seen {
  char lines[64][128];
  int nlines;
  int downs, ups;
  console_gap gap; /* the last one */
  char why[256];   /* of the last down or up */
} seen;

/* Callbacks that record into `s` (UART_TEST_DEBUG=1 prints the downs and ups). */
console_callbacks seen_callbacks(seen *s);
int seen_is_up(void *console); /* console_is_up, for run_until_fn */

/* OTAHIL_TIMEOUT_MULTIPLIER (1 when unset or not above 0). */
double test_mult(void);

/* Runs the loop until done(arg) is true or `seconds` (scaled) pass; returns
 * done(arg). A timer keeps the loop waking up to look at the deadline. */
int run_until_fn(int (*done)(void *), void *arg, double seconds);
/* The same until *flag >= want. */
int run_until(const int *flag, int want, double seconds);
/* Runs the loop for `seconds` (scaled). */
void pause_loop(double seconds);
/* Opens a console on the test loop whose callbacks record into `s` (after
 * seen_callbacks); fails the test when console_open does. */
console *open_console(const console_config *cfg, seen *s);
/* Closes a console; its handles close on the next turns of the loop. */
void close_console(console *c);

/* A console server on 127.0.0.1: accepts one client at a time (a new one drops
 * the old, as ser2net's kickolduser), sends `hello` to each, keeps what the
 * current one sent in `got`. With `away` set it answers as ser2net does when
 * its device cannot be opened: a complaint, then it closes. */
typedef struct test_server {
  uv_tcp_t listener;
  uv_tcp_t *client;
  const char *hello;
  size_t nhello;
  int away;
  int accepted; /* connections so far; -1 once stopped */
  unsigned char got[512];
  size_t ngot;
} test_server;

/* Listens on a free port (a zeroed struct on the test's stack); returns it. */
int srv_start(test_server *sv);
/* Writes to the current client; the whole of it or the test fails. */
void srv_write(test_server *sv, const void *data, size_t len);
void srv_say(test_server *sv, const char *text); /* srv_write of a C string */
/* Closes the current client (the console sees the server close). */
void srv_drop(test_server *sv);
/* Closes the client and the listener and waits until they are closed. */
void srv_stop(test_server *sv);

/* For run_until_fn: the server got `len` bytes equal to `bytes` somewhere in
 * what the current client sent. */
typedef struct srv_want {
  test_server *sv;
  const char *bytes;
  size_t len;
} srv_want;
int srv_has(void *want);

#endif
