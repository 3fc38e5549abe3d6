/* lab_power: a lab device's `kind`, `cmd` and `power` keys (lab_device_check.c calls it).
 *
 *   kind = "process" (the default): cmd is required; power is the process
 *          (no power key, or power = { driver = "process" });
 *   kind = "board": a real board; no cmd; power = { driver = "exec" |
 *          "pdudaemon" | "serial-dtr" | "http", ..., timeout = 10,
 *          at_exit = "on" | "off" | "leave" } (see drivers/power/power.h).
 *
 * Returns 0 (and sets kind's default), or -1 with err = the message without
 * its location, which lab.c adds: "power.driver 'pdu' is unknown (process,
 * exec, pdudaemon, serial-dtr, http)". */
#ifndef OTAHIL_LAB_POWER_H
#define OTAHIL_LAB_POWER_H

#include <cjson/cJSON.h>
#include <stddef.h>

int lab_power_check(cJSON *spec, char *err, size_t errlen);

#endif
