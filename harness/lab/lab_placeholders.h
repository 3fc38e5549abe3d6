/* lab_placeholders: the {names} a process device's cmd, its env and a deploy
 * command may use, checked when the lab loads (an unknown one is exit 2 at the
 * device's line, not an ERROR in every case). The runner fills them per case
 * (harness/run/cases.c): */
#ifndef OTAHIL_LAB_PLACEHOLDERS_H
#define OTAHIL_LAB_PLACEHOLDERS_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* bindir root mqtt_host mqtt_port http_host http_port broker_port fw_port
 * state_dir mcu_tty mcu_peer_tty name product device version dialect mqtt_scheme
 * http_scheme, plus {secret} when the device has one, {ca_file} when it has tls, each timing knob, and {image} in a deploy
 * command when there is a base_image. NULL-terminated. */
extern const char *const lab_placeholder_names[];

/* 0, or -1 with err = "cmd[3] uses the unknown placeholder {bogus} (known: ...)"
 * (lab.c adds the location). Call after the timing, env and deploy keys are checked. */
int lab_placeholders_check(const cJSON *spec, char *err, size_t errlen);

/* 1 when the device's cmd, env or deploy.cmd names {name} (e.g. mcu_tty: the
 * device asks for the module-MCU serial relay), else 0. */
int lab_placeholders_uses(const cJSON *spec, const char *name);

#endif
