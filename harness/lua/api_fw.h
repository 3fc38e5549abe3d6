/* api_fw: the firmware server's Lua face (t.fw) and its events. */
#ifndef OTAHIL_API_FW_H
#define OTAHIL_API_FW_H

#include "api.h"
#include "fwserver.h"

/* Pushes t.fw for one case. Image names start with `prefix` (unique per case);
 * URLs start with `base` ("http://127.0.0.1:PORT"). */
void api_fw_push(lua_State *L, fwserver *srv, evlog *log, const char *prefix, const char *base);

/* Appends an "http" event for a finished request to `log`. */
void api_fw_event(evlog *log, const fwserver_event *e);

#endif
