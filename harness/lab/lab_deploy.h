/* lab_deploy: a lab device's `deploy` and `base_image` keys (lab_device_check.c calls it).
 *
 *   deploy = { cmd = { "st-flash", "--reset", "write", "{image}", "0x08000000" },
 *              timeout = 120 },
 *   base_image = "fw/b1-1.0.0.bin",
 *
 * deploy.cmd is an argv list (no shell) run before every case with the device's
 * power off (device_deploy.h); its {placeholders} are a process device's cmd
 * placeholders plus {image}, the path of base_image. timeout: seconds, default
 * 300. Boards and process devices may have it. base_image is a file name
 * (relative to the lab file's folder); lab_device_check.c resolves it and checks it exists.
 *
 * Returns 0 (and fills in the default timeout), or -1 with err = the message
 * without its location, which lab.c adds: "deploy.cmd must be a non-empty list
 * of strings (argv; no shell)". */
#ifndef OTAHIL_LAB_DEPLOY_H
#define OTAHIL_LAB_DEPLOY_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define LAB_DEPLOY_TIMEOUT 300.0

int lab_deploy_check(cJSON *spec, char *err, size_t errlen);

#endif
