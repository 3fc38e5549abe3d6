/* lab_network: a lab device's `network` key (lab_device_check.c calls it): where the
 * device reaches its two fault proxies (MQTT in front of the broker, HTTP in
 * front of the firmware server).
 *
 *   network = { listen = "192.168.7.1",  -- the address the proxies bind to
 *               host = "192.168.7.1",    -- the address the device uses for them
 *               mqtt_port = 1883,        -- fixed ports, for a board whose
 *               http_port = 8080 }       -- firmware has them built in
 *
 * Every key is optional: listen "127.0.0.1", host = listen, ports 0 (a free
 * port each case, given to a process device as {mqtt_port} / {http_port}).
 * The defaults are filled in; the runner reads them as lab_device.net (lab.h).
 *
 * Returns 0, or -1 with err = the message without its location, which lab.c
 * adds: "network.listen '10.0.0.300' is not an IPv4 or IPv6 address". */
#ifndef OTAHIL_LAB_NETWORK_H
#define OTAHIL_LAB_NETWORK_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "lab.h"

int lab_network_check(cJSON *spec, char *err, size_t errlen);

/* A checked device's network (lab_net is lab.h's; its strings are the spec's). */
lab_net lab_network_of(const cJSON *spec);

#endif
