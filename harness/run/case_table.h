/* case_table: the whole C <-> Lua contract of a case, the table `t` that its
 * scenario's run(t) is given (the Lua side: docs/lua-api.md, "t: the case").
 *
 *   t.device              device_push     harness/device/device.h   the lab declaration, power, console
 *   t.device.uart         (in t.device)                             the console as raw bytes
 *   t.fw                  api_fw_push     harness/lua/api_fw.h      images served for this case only
 *   t.net                 netdev_push     harness/lua/api_net.h     the device's two fault proxies
 *   t.serial              serialdev_push  harness/lua/api_serial.h  the module-MCU relay, or nil
 *   t.id t.name t.seed t.timeout_multiplier t.params                plain values
 *   t.expect t.sleep ...  the otahil module's functions (t.expect == otahil.expect)
 *
 * Nothing else of the case reaches Lua: what a scenario can touch is exactly
 * what case_parts names. The objects stay owned by the case; `t` only holds
 * userdata that point at them, and the case's cleanup closes them. */
#ifndef OTAHIL_CASE_TABLE_H
#define OTAHIL_CASE_TABLE_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "api_fw.h"
#include "api_net.h"
#include "api_serial.h"
#include "device.h"

typedef struct case_parts {
  device *dev;
  netdev *net;
  serialdev *serial; /* NULL: t.serial is nil */
  fw_images *fw;
  const char *fw_base; /* "http[s]://host[:port]": the HTTP proxy as the device reaches it */
  const char *id, *name;
  uint64_t seed;
  double timeout_multiplier;
  int params_at; /* absolute stack index of the scenario's params list, 0 for none */
  int param;     /* this case's set in it (1-based), 0 for none: t.params = {} */
} case_parts;

/* Pushes a new `t` built from p onto L's stack. */
void case_table_push(lua_State *L, const case_parts *p);

/* The base of the firmware URLs the cloud hands out: scheme, host (v6 in
 * brackets) and the HTTP proxy's port, no port when it is the scheme's
 * default (vendor HTTP clients often parse no host:port). */
void case_fw_base(const char *host, int tls, int port, char *out, size_t outlen);

#endif
