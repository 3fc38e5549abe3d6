#!/bin/sh
# tree_device.sh MARK [exit]: a process device that leaves processes behind in
# every way it can, to see that power off and otahil's exit reach them all:
#  - a child it does not exec (a wrapper script that starts the firmware
#    without exec),
#  - a child that ignores SIGTERM,
#  - a daemon that double-forks into a session of its own (setsid): out of the
#    process group, and re-parented when its first fork exits.
# MARK is in the environment of every one of them (the tests look for it in
# /proc/*/environ). Prints "tree up" once they all run, then waits; with
# `exit` it exits 3 a second later instead, leaving them behind.
# (the shell too: its own /proc environ is what it was started with)
[ "${OTAHIL_TEST_MARK:-}" = "$1" ] || OTAHIL_TEST_MARK="$1" exec "$0" "$@"
sleep 600 &
(trap '' TERM; exec sleep 600) &
setsid sh -c 'sleep 600 & exit 0' &
wait $! # the setsid'd shell, which exits at once: its sleep is an orphan now
echo "tree up"
if [ "${2:-}" = exit ]; then sleep 1; exit 3; fi
wait
