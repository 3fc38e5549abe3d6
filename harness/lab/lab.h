/* lab: the lab file, a Lua file that declares the devices of a rack.
 *
 *   device "emu1" {
 *     dialect = "qcloud", product = "P1", device = "emu1", version = "1.0.0",
 *     kind = "process", cmd = { "{bindir}/otadev", "--state", "{state_dir}", ... },
 *     images = { good = { ["2.0.0"] = otadev_image{ version = "2.0.0", size = 262144 } },
 *                fail_boot = { version = "2.9.0", file = "fw/bad-boot.bin" },
 *                fail_burn = { version = "2.8.0", file = "fw/bad-burn.bin" } },
 *     timing = { boot = 2, download_timeout = 3 },
 *     features = { "power", "console" },
 *   }
 *
 * Every wrong key, type or missing file is an error "file:line: device 'x': ...". */
#ifndef OTAHIL_LAB_H
#define OTAHIL_LAB_H

#include <cjson/cJSON.h>
#include <stddef.h>

typedef struct lab_device {
  char *name;
  int line;    /* where `device "name"` stands in the lab file */
  cJSON *spec; /* the validated declaration; image paths made absolute */
} lab_device;

typedef struct lab {
  char *file;
  lab_device *devices;
  size_t count;
  char **libs; /* lib = { "folder", ... }: the lab's own library folders, resolved
                  (NULL-terminated; NULL without lib) */
} lab;

/* Loads and validates `path`. Images declared with otadev_image{} are built in
 * `image_dir`. Returns 0, or -1 with err = "file:line: message". */
int lab_load(const char *path, const char *image_dir, lab **out, char *err, size_t errlen);
void lab_free(lab *l);

/* Convenience accessors on a device's spec. */
const char *lab_str(const lab_device *d, const char *key); /* NULL if absent */

#endif
