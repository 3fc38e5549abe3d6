#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "fsutil.h"
#include "modstore.h"

#define META_MAX 65536

int modstore_valid_name(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > MODSTORE_NAME_MAX) return 0;
  for (; *name; name++) {
    char c = *name;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-'))
      return 0;
  }
  return 1;
}

/* Reads modules.json as an object (an empty one when missing). */
static cJSON *load(const char *dir, char *err, size_t errlen) {
  char path[4200];
  if (fs_join(path, sizeof path, dir, "modules.json") != 0) {
    errmsg(err, errlen, "modstore: path too long");
    return NULL;
  }
  int missing = 0;
  size_t len = 0;
  char *text = fs_read_all(path, META_MAX, &len, &missing, err, errlen);
  if (!text) return missing ? cJSON_CreateObject() : NULL;
  cJSON *root = cJSON_ParseWithLength(text, len);
  free(text);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    errmsg(err, errlen, "%s: not a JSON object", path);
    return NULL;
  }
  return root;
}

static int save(const char *dir, cJSON *root, char *err, size_t errlen) {
  char path[4200];
  if (fs_join(path, sizeof path, dir, "modules.json") != 0) {
    errmsg(err, errlen, "modstore: path too long");
    return -1;
  }
  char *text = cJSON_PrintUnformatted(root);
  if (!text) {
    errmsg(err, errlen, "modstore: out of memory");
    return -1;
  }
  int rc = fs_write_atomic(path, text, strlen(text), NULL, NULL, err, errlen);
  free(text);
  return rc;
}

int modstore_init(const char *dir, const char *const *factory, int n, char *err, size_t errlen) {
  if (n <= 0) return 0;
  cJSON *root = load(dir, err, errlen);
  if (!root) return -1;
  int changed = 0, rc = 0;
  for (int i = 0; i < n && rc == 0; i++) {
    const char *eq = strchr(factory[i], '=');
    char name[MODSTORE_NAME_MAX + 1];
    size_t k = eq ? (size_t)(eq - factory[i]) : 0;
    if (!eq || k > MODSTORE_NAME_MAX) {
      errmsg(err, errlen, "modstore: '%s' is not NAME=VERSION", factory[i]);
      rc = -1;
      break;
    }
    memcpy(name, factory[i], k);
    name[k] = 0;
    if (!modstore_valid_name(name) || strcmp(name, "default") == 0) {
      errmsg(err, errlen, "modstore: module name '%s' is not allowed", name);
      rc = -1;
      break;
    }
    if (cJSON_GetObjectItemCaseSensitive(root, name)) continue;
    cJSON_AddStringToObject(root, name, eq + 1);
    changed = 1;
  }
  if (rc == 0 && changed) rc = save(dir, root, err, errlen);
  cJSON_Delete(root);
  return rc;
}

static int by_name(const void *a, const void *b) {
  return strcmp(((const modstore_entry *)a)->name, ((const modstore_entry *)b)->name);
}

int modstore_list(const char *dir, modstore_entry *out, int max, char *err, size_t errlen) {
  cJSON *root = load(dir, err, errlen);
  if (!root) return -1;
  int n = 0;
  for (cJSON *m = root->child; m && n < max; m = m->next) {
    if (!cJSON_IsString(m) || !modstore_valid_name(m->string) ||
        strlen(m->valuestring) > FLASH_VERSION_MAX)
      continue;
    snprintf(out[n].name, sizeof out[n].name, "%s", m->string);
    snprintf(out[n].version, sizeof out[n].version, "%s", m->valuestring);
    n++;
  }
  cJSON_Delete(root);
  qsort(out, (size_t)n, sizeof *out, by_name);
  return n;
}

int modstore_install(const char *dir, const char *name, const char *version, const char *image,
                     char *err, size_t errlen) {
  if (!modstore_valid_name(name) || strlen(version) > FLASH_VERSION_MAX) {
    errmsg(err, errlen, "modstore: module '%s' or version '%s' is not valid", name, version);
    return -1;
  }
  char file[64], path[4200];
  snprintf(file, sizeof file, "module_%s.bin", name);
  if (fs_join(path, sizeof path, dir, file) != 0) {
    errmsg(err, errlen, "modstore: path too long");
    return -1;
  }
  size_t len = 0;
  char *data = fs_read_all(image, 64u << 20, &len, NULL, err, errlen);
  if (!data) return -1;
  int rc = fs_write_atomic(path, data, len, NULL, NULL, err, errlen);
  free(data);
  if (rc != 0) return -1;
  cJSON *root = load(dir, err, errlen);
  if (!root) return -1;
  cJSON_DeleteItemFromObjectCaseSensitive(root, name);
  cJSON_AddStringToObject(root, name, version);
  rc = save(dir, root, err, errlen);
  cJSON_Delete(root);
  return rc;
}
