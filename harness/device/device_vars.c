/* device_vars: a case's placeholder values (see device_vars.h). */
#include "device_vars.h"

#include <string.h>

void device_vars_set(device_vars *v, const char *key, const char *value) {
  for (int i = 0; i < v->n; i++)
    if (strcmp(v->keys[i], key) == 0) {
      v->values[i] = value;
      return;
    }
  if (v->n < 64) {
    v->keys[v->n] = key;
    v->values[v->n++] = value;
  }
}
