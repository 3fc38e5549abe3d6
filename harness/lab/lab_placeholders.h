/* lab_placeholders: the {names} a process device's cmd, its env and a deploy
 * command may use, checked when the lab loads (an unknown one is exit 2 at the
 * device's line, not an ERROR in every case), and their expansion: the one place
 * the harness fills {name} from a case's values (harness/run/cases.c makes them;
 * harness/device starts the commands). The power drivers fill their own table's
 * placeholders themselves (drivers/power/power.h). */
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

/* `s` with each {name} replaced by its value in `vars` (NULL-terminated key,
 * value pairs; a "{" without "}" stays as it is). Returns a malloc'd string the
 * caller frees, or NULL with err = "uses the unknown placeholder {x}" (the
 * caller says where). Aborts when out of memory. */
char *lab_expand(const char *s, const char *const *vars, char *err, size_t errlen);

/* The n strings `strs` expanded, each as "names[i]=value" when `names` is not
 * NULL (an environment). Returns a malloc'd NULL-terminated list (lab_expand_free),
 * or NULL with *bad = the index of the string that failed and err = why. */
char **lab_expand_all(size_t n, const char *const *strs, const char *const *names, const char *const *vars,
                      size_t *bad, char *err, size_t errlen);
void lab_expand_free(char **list);

#endif
