/* device: one emulated device's life: boot (flash), connect (mqtt_link),
 * talk (dialect), upgrade (engine), reboot, until SIGTERM/SIGINT.
 */
#ifndef OTAHIL_EMU_DEVICE_H
#define OTAHIL_EMU_DEVICE_H

#include "cli.h"

/* Runs the device described by `cfg` on the calling thread. Installs SIGTERM
 * and SIGINT handlers (graceful shutdown) and ignores SIGPIPE. Returns the
 * process exit code: 0 after a graceful shutdown, 3 when the flash cannot be
 * used (the error is printed on stderr and the console). */
int device_run(const otadev_config *cfg);

#endif
