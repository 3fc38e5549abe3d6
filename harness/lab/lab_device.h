/* lab_device: one device's declaration, validated and made the typed lab_device
 * (lab.h). lab.c calls it for each `device "name" { ... }`; nothing else does.
 *
 * The order is: lab_device_check (may change the spec: defaults filled in, paths
 * made absolute), then lab_device_build (reads the checked spec; cannot fail),
 * and lab_device_clear when the lab is freed. */
#ifndef OTAHIL_LAB_DEVICE_H
#define OTAHIL_LAB_DEVICE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "lab.h"

/* Checks and completes `spec` of the device `name`. Relative paths start at
 * `lab_dir`; a test PKI is made under `image_dir` (lab_tls.h). Returns 0, or -1
 * with err = the message without its location (lab.c adds "file:line: device 'x': "). */
int lab_device_check(cJSON *spec, const char *name, const char *lab_dir, const char *image_dir, char *err,
                     size_t errlen);

/* Fills d's typed fields from d->spec (checked). The lists it allocates belong
 * to d until lab_device_clear. */
void lab_device_build(lab_device *d);

/* Frees what lab_device_build allocated, d->name and d->spec. */
void lab_device_clear(lab_device *d);

/* A name that cannot be a file name part, a topic level or a case id part (1). */
int lab_bad_name(const char *s);

/* `s` (n bytes) for a one-line message: control bytes as \xNN, at most `len` bytes. */
void lab_printable(const char *s, size_t n, char *out, size_t len);

#endif
