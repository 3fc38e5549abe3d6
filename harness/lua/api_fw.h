/* api_fw: the firmware server's Lua face (t.fw) and its events. */
#ifndef OTAHIL_API_FW_H
#define OTAHIL_API_FW_H

#include "api.h"
#include "fwserver.h"

/* The run's router: it takes the server's events (fwserver_on_event) and logs
 * each in the event log of the case whose image it is. Free it after the
 * server is closed. */
typedef struct fw_router fw_router;
fw_router *fw_router_new(fwserver *srv);
void fw_router_free(fw_router *r);

/* A case's images: what its t.fw registered. Freeing it removes them from the
 * server; events of their requests still in flight are then dropped. */
typedef struct fw_images fw_images;
fw_images *fw_images_new(fw_router *r, evlog *log);
void fw_images_free(fw_images *f);

/* Pushes t.fw for the case that owns `f`; URLs start with `base`
 * ("http://127.0.0.1:PORT", as the device reaches the server). */
void api_fw_push(lua_State *L, fw_images *f, const char *base);

#endif
