/* modstore: the device's OTA modules besides the firmware itself.
 *
 * Aliyun names each separately upgraded part of a device a module: "default"
 * is the whole firmware (flash.c's A/B slots); others (an MCU behind the main
 * chip, a HaaS file module) carry their own version and are upgraded without
 * touching the firmware or rebooting.
 *
 *   DIR/modules.json          {"MCU": "1.0.0", "app": "1.0.0"}
 *   DIR/module_<name>.bin     the installed image of each module
 *
 * modules.json is replaced atomically, so a power cut leaves the old or the
 * new version, never a mix.
 */
#ifndef OTAHIL_EMU_MODSTORE_H
#define OTAHIL_EMU_MODSTORE_H

#include <stddef.h>

#include "flash.h"

#define MODSTORE_NAME_MAX 32
#define MODSTORE_MAX 8

typedef struct modstore_entry {
  char name[MODSTORE_NAME_MAX + 1];
  char version[FLASH_VERSION_MAX + 1];
} modstore_entry;

/* 1 if `name` is a valid module name (1..32 of [A-Za-z0-9_.-]). */
int modstore_valid_name(const char *name);

/* Adds the factory modules ("NAME=VERSION" strings) that DIR/modules.json
 * does not know yet. Returns 0, or -1 with `err` set. */
int modstore_init(const char *dir, const char *const *factory, int n, char *err, size_t errlen);

/* Reads the modules into `out` (at most `max`), sorted by name. Returns their
 * count (0 when there is no modules.json), or -1 with `err` set. */
int modstore_list(const char *dir, modstore_entry *out, int max, char *err, size_t errlen);

/* Installs `image` as module `name` at `version`: copies it to
 * DIR/module_<name>.bin, then records the version. Returns 0, or -1 with
 * `err` set (the module keeps its old version). */
int modstore_install(const char *dir, const char *name, const char *version, const char *image,
                     char *err, size_t errlen);

#endif
