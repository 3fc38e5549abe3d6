#!/bin/sh
# flood_device.sh MARKER [cr|lines]: a device that boots, then writes its
# console without pause: '\r' bytes (a flood that makes no console lines, so
# the reports stay small: the test is about the loop) or "MARKER" lines (yes).
# MARKER is in the environment of whatever runs, for the leftovers check.
printf 'booted\r\n'
export OTAHIL_TEST_MARK="$1"
case "${2:-cr}" in
  lines) exec yes "$1" ;;
  *) exec tr '\000' '\r' < /dev/zero ;;
esac
