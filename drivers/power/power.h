/* power: one interface for the power drivers of real boards.
 *
 * A driver is made from a device's lab table `power = { driver = "...", ... }`
 * (as cJSON). The calls block (each bounded by its own timeout), so a caller on
 * an event loop runs them on a worker thread; one power object is used by one
 * thread at a time. Drivers:
 *
 *   process     power = the device's process (power_process.h, on the loop);
 *               power_check() accepts it, power_new() does not make it
 *   exec        argv commands, no shell:  on = {"relay", "{port}", "1"}, off = {...},
 *               cycle = {...} (optional, {delay} in seconds), state = {...}
 *               (optional, prints on/off); free keys of the table are placeholders
 *   pdudaemon   PDUDaemon's HTTP API: daemon = "http://127.0.0.1:16421",
 *               hostname = "pdu1", port = 3 (the outlet), or alias = "b1-power"
 *   serial-dtr  a relay on a serial port's modem line (libserialport): port =
 *               "/dev/ttyUSB1", line = "dtr" | "rts", active = "high" | "low"
 *   http        a REST relay: on/off/cycle/state = { url =, method = "GET",
 *               body =, status = 200 }, state.json = "ison" (the JSON key that
 *               says on or off); user =, password = (basic auth)
 *
 * Every driver also takes `timeout` (seconds per call, default 10) and
 * `at_exit` ("on" | "off" | "leave": what the harness does when the run ends).
 * Placeholders {name} are filled from the key/value pairs a call passes in and,
 * for exec, from the table's free keys. Errors name the device and the driver:
 * "device 'b1': power on (exec): 'relay' exited with status 2: no such outlet".
 */
#ifndef OTAHIL_POWER_H
#define OTAHIL_POWER_H

#include <cjson/cJSON.h>
#include <stddef.h>

typedef struct power power;

typedef enum { POWER_UNKNOWN = -1, POWER_OFF = 0, POWER_ON = 1 } power_state_t;

/* What one call gets besides the driver. */
typedef struct power_opts {
  double timeout_s;        /* the whole call; <= 0: the table's timeout */
  double delay_s;          /* power_cycle: how long the power stays off */
  const char *const *vars; /* NULL-terminated key, value pairs for {placeholders}; may be NULL */
} power_opts;

/* The driver names, for messages: "process, exec, pdudaemon, serial-dtr, http". */
const char *power_driver_names(void);

/* Checks a power table without opening anything. Returns 0, or -1 with err
 * naming the key: "power.driver 'pdu' is unknown (process, exec, pdudaemon,
 * serial-dtr, http)". The caller adds where (file:line, device). */
int power_check(const cJSON *cfg, char *err, size_t errlen);

/* The table's driver name (after power_check), or NULL. */
const char *power_cfg_driver(const cJSON *cfg);

/* Makes a driver from a checked table (not for "process"). `device` names the
 * device in messages; cfg is copied. Opens nothing yet. Returns 0 or -1 with err. */
int power_new(const cJSON *cfg, const char *device, power **out, char *err, size_t errlen);

/* Each returns 0, or -1 with err ("device 'x': power on (driver): why"). */
int power_on(power *p, const power_opts *o, char *err, size_t errlen);
int power_off(power *p, const power_opts *o, char *err, size_t errlen);
/* Off, delay_s, on: in one request where the driver has one (pdudaemon reboot,
 * exec/http `cycle`), else as two calls with a sleep between. */
int power_cycle(power *p, const power_opts *o, char *err, size_t errlen);
/* *out = POWER_ON / POWER_OFF where the hardware can tell, else POWER_UNKNOWN
 * (then the call succeeds without asking anything). */
int power_state(power *p, const power_opts *o, power_state_t *out, char *err, size_t errlen);

const char *power_driver(const power *p);
/* The table's timeout in seconds (default 10). */
double power_timeout(const power *p);
/* 1 if power_state can tell on from off (so it asks the hardware). */
int power_can_tell(const power *p);
const char *power_state_name(power_state_t s); /* "on", "off", "unknown" */

/* Closes what the driver holds open (a serial port keeps its lines as they are). */
void power_free(power *p);

#endif
