/* device_vars: the placeholder values of a case for a device's cmd, power
 * driver and deploy step ({name} -> value). No Lua: device_power.h and
 * device_deploy.h take them. */
#ifndef OTAHIL_DEVICE_VARS_H
#define OTAHIL_DEVICE_VARS_H

/* Pairs, n of them; the strings are the caller's and must outlive the use. */
typedef struct device_vars {
  const char *keys[64]; /* 20 fixed placeholders + up to 32 timing knobs */
  const char *values[64];
  int n;
} device_vars;

/* Sets key to value (replacing an earlier value); a 65th key is dropped. */
void device_vars_set(device_vars *v, const char *key, const char *value);

#endif
