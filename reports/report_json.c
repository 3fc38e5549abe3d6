/* report_json: the run document as a JSON file. */
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "report_util.h"

/* cJSON copies bytes through unchanged, so a device's invalid UTF-8 would make
 * the file unreadable to strict parsers: repair strings and keys in the copy. */
static int rj__sanitize(cJSON *node) {
  for (; node; node = node->next) {
    if (node->string && !(node->type & cJSON_StringIsConst)) {
      char *fixed = utf8_sanitize(node->string);
      if (!fixed) return -1;
      if (strcmp(fixed, node->string) != 0) {
        size_t n = strlen(fixed) + 1;
        char *k = cJSON_malloc(n);
        if (!k) {
          free(fixed);
          return -1;
        }
        memcpy(k, fixed, n);
        cJSON_free(node->string);
        node->string = k;
      }
      free(fixed);
    }
    if (cJSON_IsString(node) && node->valuestring) {
      char *fixed = utf8_sanitize(node->valuestring);
      if (!fixed) return -1;
      int same = strcmp(fixed, node->valuestring) == 0;
      char *set = same ? node->valuestring : cJSON_SetValuestring(node, fixed);
      free(fixed);
      if (!set) return -1;
    }
    if (node->child && rj__sanitize(node->child) != 0) return -1;
  }
  return 0;
}

int report_write_json(const cJSON *run, const char *path, char *err, size_t errlen) {
  if (!path) {
    ru_err(err, errlen, "report_write_json: no path");
    return -1;
  }
  if (!ru_scenarios(run, "report_write_json", path, err, errlen)) return -1;
  cJSON *copy = cJSON_Duplicate(run, 1);
  if (!copy || rj__sanitize(copy) != 0) {
    cJSON_Delete(copy);
    ru_err(err, errlen, "report_write_json %s: out of memory", path);
    return -1;
  }
  char *text = cJSON_Print(copy);
  cJSON_Delete(copy);
  if (!text) {
    ru_err(err, errlen, "report_write_json %s: out of memory", path);
    return -1;
  }
  strbuf b;
  sb_init(&b);
  sb_puts(&b, text);
  sb_puts(&b, "\n");
  cJSON_free(text);
  int rc = ru_finish(&b, "report_write_json", path, err, errlen);
  sb_free(&b);
  return rc;
}
