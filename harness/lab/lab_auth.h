/* lab_auth: a lab device's `auth` key (lab_device_check.c calls it): who judges the device's MQTT login.
 *
 *   auth = "none"       -- the default: the broker takes any login (allow_anonymous)
 *   auth = "platform"   -- the device's MQTT proxy holds each CONNECT until the dialect
 *                       -- library's login(t, l) accepts it (the CONNECT goes on unchanged)
 *                       -- or refuses it (CONNACK 4 / 5, 0x86 / 0x87 in MQTT 5, then close),
 *                       -- with the lab's `secret` as the key; it needs `secret`
 *
 * Returns 0, or -1 with err = the message without its location. */
#ifndef OTAHIL_LAB_AUTH_H
#define OTAHIL_LAB_AUTH_H

#include <cjson/cJSON.h>
#include <stddef.h>

int lab_auth_check(const cJSON *spec, char *err, size_t errlen);

/* 1 if the (checked) device's auth is "platform", else 0. */
int lab_auth_platform(const cJSON *spec);

#endif
