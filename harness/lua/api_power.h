/* api_power: the scenario API's `power` module: the power methods of t.device,
 * over the state machine of harness/device/device_power.h.
 *
 * Lua, on t.device (each raises an error naming the device and driver when the
 * driver fails; options are optional):
 *   dev:power_on{timeout=}              -> true
 *   dev:power_off{graceful=false, timeout=} -> true (graceful: process devices)
 *   dev:power_cycle{delay=0, timeout=}  -> true: off, delay seconds, on
 *   dev:power_state{timeout=}           -> "on" | "off" | "unknown"
 *   dev:is_on()                         -> the last known state is on
 * A board's call yields until its driver call is done (or its wait times out);
 * a process device's power_off and power_cycle yield until the process is
 * reaped (and started again).
 */
#ifndef OTAHIL_API_POWER_H
#define OTAHIL_API_POWER_H

#include <lua.h>

#include "device_power.h"

/* The methods; each takes the device's power as found by device.c (argument 1
 * is the device, argument 2 the options). A failed call raises its message at
 * the scenario's line (rt_wait_yield_raise), also after a wait. */
int api_power_on(lua_State *L, device_power *pw);
int api_power_off(lua_State *L, device_power *pw);
int api_power_cycle(lua_State *L, device_power *pw);
int api_power_state(lua_State *L, device_power *pw);
int api_power_is_on(lua_State *L, device_power *pw);

#endif
