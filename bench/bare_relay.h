/* bare_relay: the least a user-space TCP relay can do, as a yardstick for netem's
 * throughput: a child process that accepts one connection at a time on a free loopback
 * port and moves each direction socket -> pipe -> socket with blocking splice(2) in a
 * thread of its own. No views, no events, no faults, no event loop: whatever ratio it
 * gets is the ceiling for any relay on this machine, the second TCP hop included. */
#ifndef OTAHIL_BENCH_BARE_RELAY_H
#define OTAHIL_BENCH_BARE_RELAY_H

#include <sys/types.h>

/* Starts the relay in front of 127.0.0.1:upstream; returns its pid and sets *port. */
pid_t bare_relay_start(int upstream, int *port);

#endif
