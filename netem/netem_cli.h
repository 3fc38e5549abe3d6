/* netem_cli: `otahil netem ...`, the proxy run alone (for a real board on the bench).
 *
 *   netem --listen 127.0.0.1:PORT --upstream HOST:PORT [--http|--mqtt]
 *         [--fault SPEC]... [--seed N] [--progress BYTES] [--quiet] [--no-splice]
 *
 * Prints "listening 127.0.0.1:PORT" (PORT 0 picks a free one), then one line per event
 * on stdout, until SIGINT or SIGTERM. argv[0] is "netem". Returns the exit status:
 * 0 after a signal, 2 on a usage error, 3 if the proxy cannot start. */
#ifndef OTAHIL_NETEM_CLI_H
#define OTAHIL_NETEM_CLI_H

int netem_cli_main(int argc, char **argv);

#endif
