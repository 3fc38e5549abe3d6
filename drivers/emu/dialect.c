#include <stdio.h>
#include <string.h>

#include "dialect.h"
#include "dialect_qcloud.h"
#include "dialect_quecthing.h"
#include "dialect_aliyun.h"
#include "dialect_haas.h"

static const dialect_ops *const all[] = {&dialect_qcloud_ops, &dialect_aliyun_ops, &dialect_haas_ops, &dialect_quecthing_ops};

const dialect_ops *dialect_find(const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (strcmp(all[i]->name, name) == 0) return all[i];
  return NULL;
}

void dialect_names(char *buf, size_t len) {
  size_t used = 0;
  if (len == 0) return;
  buf[0] = 0;
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", all[i]->name);
    if (n < 0 || (size_t)n >= len - used) return;
    used += (size_t)n;
  }
}
