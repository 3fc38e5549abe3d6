#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dialect.h"
#include "dialect_qcloud.h"
#include "dialect_quecthing.h"
#include "dialect_aliyun.h"
#include "dialect_haas.h"
#include "errmsg.h"

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

cJSON *dialect_parse_object(const char *payload, size_t len, size_t max, char *why, size_t whylen) {
  if (!payload || len > max) {
    errmsg(why, whylen, "payload of %zu bytes is larger than %zu", len, max);
    return NULL;
  }
  cJSON *root = cJSON_ParseWithLength(payload, len);
  if (!cJSON_IsObject(root)) {
    errmsg(why, whylen, root ? "not a JSON object" : "not valid JSON");
    cJSON_Delete(root);
    return NULL;
  }
  return root;
}

int dialect_json_int(const cJSON *v, double lo, double hi) {
  return cJSON_IsNumber(v) && v->valuedouble >= lo && v->valuedouble <= hi &&
         floor(v->valuedouble) == v->valuedouble;
}

int dialect_printable(const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c <= 0x20 || c == 0x7f) return 0;
  }
  return 1;
}

int dialect_http_url(const char *s) {
  return dialect_printable(s) && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0);
}
