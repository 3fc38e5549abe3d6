#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errmsg.h"
#include "breakpoint.h"
#include "fsutil.h"

struct breakpoint {
  int persist;
  int has;
  char version[64];
  char md5[33];
  uint64_t size;
  char part_path[4200];
  char json_path[4200];
};

static void copy_str(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (n >= cap) n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = 0;
}

static void load(breakpoint *b) {
  char err[256];
  size_t len = 0;
  char *text = fs_read_all(b->json_path, 4096, &len, NULL, err, sizeof err);
  if (!text) return;
  cJSON *root = cJSON_ParseWithLength(text, len);
  free(text);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "version");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "md5");
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "size");
  if (cJSON_IsString(v) && strlen(v->valuestring) < sizeof b->version && cJSON_IsString(m) &&
      strlen(m->valuestring) < sizeof b->md5 && cJSON_IsNumber(s) && s->valuedouble >= 0 &&
      s->valuedouble < 9.0e15) {
    b->has = 1;
    copy_str(b->version, sizeof b->version, v->valuestring);
    copy_str(b->md5, sizeof b->md5, m->valuestring);
    b->size = (uint64_t)s->valuedouble;
  }
  cJSON_Delete(root);
}

breakpoint *breakpoint_open(const char *dir, int persist, char *err, size_t errlen) {
  breakpoint *b = calloc(1, sizeof *b);
  if (!b) {
    errmsg(err, errlen, "breakpoint: out of memory");
    return NULL;
  }
  b->persist = persist;
  if (fs_join(b->part_path, sizeof b->part_path, dir, "download.part") != 0 ||
      fs_join(b->json_path, sizeof b->json_path, dir, "breakpoint.json") != 0) {
    errmsg(err, errlen, "breakpoint: state directory path too long");
    free(b);
    return NULL;
  }
  if (persist) load(b);
  return b;
}

int breakpoint_matches(const breakpoint *b, const char *version, const char *md5, uint64_t size) {
  return b->has && strcmp(b->version, version) == 0 && strcasecmp(b->md5, md5) == 0 &&
         b->size == size;
}

int breakpoint_has_record(const breakpoint *b) { return b->has; }

const char *breakpoint_version(const breakpoint *b) { return b->has ? b->version : NULL; }

uint64_t breakpoint_offset(const breakpoint *b) {
  int64_t n = fs_size(b->part_path);
  return n > 0 ? (uint64_t)n : 0;
}

const char *breakpoint_part_path(const breakpoint *b) { return b->part_path; }

int breakpoint_record(breakpoint *b, const char *version, const char *md5, uint64_t size,
                      char *err, size_t errlen) {
  if (strlen(version) >= sizeof b->version || strlen(md5) >= sizeof b->md5) {
    errmsg(err, errlen, "breakpoint: version or md5 too long");
    return -1;
  }
  b->has = 1;
  copy_str(b->version, sizeof b->version, version);
  copy_str(b->md5, sizeof b->md5, md5);
  b->size = size;
  if (!b->persist) return 0;
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "version", version);
  cJSON_AddStringToObject(root, "md5", md5);
  cJSON_AddNumberToObject(root, "size", (double)size);
  char *text = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!text) {
    errmsg(err, errlen, "%s: out of memory", b->json_path);
    return -1;
  }
  int rc = fs_write_atomic(b->json_path, text, strlen(text), NULL, NULL, err, errlen);
  free(text);
  return rc;
}

int breakpoint_begin(breakpoint *b, const char *version, const char *md5, uint64_t size,
                     char *err, size_t errlen) {
  /* The old bytes go first: a record must never describe another firmware's bytes. */
  if (unlink(b->part_path) != 0 && errno != ENOENT) {
    errmsg(err, errlen, "%s: %s", b->part_path, strerror(errno));
    return -1;
  }
  return breakpoint_record(b, version, md5, size, err, errlen);
}

int breakpoint_clear(breakpoint *b, char *err, size_t errlen) {
  b->has = 0;
  if (unlink(b->json_path) != 0 && errno != ENOENT) {
    errmsg(err, errlen, "%s: %s", b->json_path, strerror(errno));
    return -1;
  }
  if (unlink(b->part_path) != 0 && errno != ENOENT) {
    errmsg(err, errlen, "%s: %s", b->part_path, strerror(errno));
    return -1;
  }
  return 0;
}

void breakpoint_describe(const breakpoint *b, char *buf, size_t len) {
  if (!b->has) {
    snprintf(buf, len, "none");
    return;
  }
  snprintf(buf, len, "version=%s md5=%s size=%llu offset=%llu", b->version, b->md5,
           (unsigned long long)b->size, (unsigned long long)breakpoint_offset(b));
}

void breakpoint_close(breakpoint *b) { free(b); }
