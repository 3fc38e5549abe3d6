/* lab_tls: the `tls` key of a lab device (see lab_tls.h). */
#include "lab_tls.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tls_pki.h"

/* Paths longer than PATH_MAX are cut and then simply not found. */
static void join(const char *dir, const char *p, char *out, size_t len) {
  int n = p[0] == '/' ? snprintf(out, len, "%s", p) : snprintf(out, len, "%s/%s", dir, p);
  if (n < 0) out[0] = 0;
}

/* The run's PKI folder of a device: <report>/work/tls/<device> beside work/images. */
static int run_dir(const char *image_dir, const char *device, char *out, size_t len, char *err, size_t errlen) {
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s", image_dir);
  char *slash = strrchr(parent, '/');
  if (slash) *slash = 0;
  else snprintf(parent, sizeof parent, ".");
  size_t n = strlen(parent);
  snprintf(parent + n, sizeof parent - n, "/tls");
  if (mkdir(parent, 0755) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "tls: cannot create %s: %s", parent, strerror(errno));
    return -1;
  }
  char safe[160];
  size_t k = 0;
  for (const char *c = device; *c && k + 1 < sizeof safe; c++)
    safe[k++] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", *c) ? *c : '_';
  safe[k] = 0;
  snprintf(out, len, "%s/%s", parent, k ? safe : "_");
  return 0;
}

/* Issues the PKI's leaves for the device's names into dir. */
static int make_pki(cJSON *spec, const char *dir, char *err, size_t errlen) {
  const cJSON *net = cJSON_GetObjectItemCaseSensitive(spec, "network"); /* checked before */
  const char *cand[] = {cJSON_GetObjectItemCaseSensitive(net, "host")->valuestring,
                        cJSON_GetObjectItemCaseSensitive(net, "listen")->valuestring, "localhost", "127.0.0.1", "::1"};
  const char *names[5];
  size_t n = 0;
  for (size_t i = 0; i < 5; i++) {
    int dup = 0;
    for (size_t j = 0; j < n; j++) dup |= strcmp(names[j], cand[i]) == 0;
    if (!dup) names[n++] = cand[i];
  }
  char why[600];
  if (tls_pki_make(dir, names, n, why, sizeof why) != 0) {
    snprintf(err, errlen, "tls: %s", why);
    return -1;
  }
  return 0;
}

static int set_files(cJSON *tls, const char *dir, const char *ca, const char *cert, const char *key) {
  char path[PATH_MAX];
  const char *keys[] = {"ca", "cert", "key"}, *files[] = {ca, cert, key};
  for (int i = 0; i < 3; i++) {
    join(dir, files[i], path, sizeof path);
    cJSON_DeleteItemFromObjectCaseSensitive(tls, keys[i]);
    if (!cJSON_AddStringToObject(tls, keys[i], path)) return -1;
  }
  return 0;
}

static int own_files(cJSON *tls, const char *lab_dir, char *err, size_t errlen) {
  const char *keys[] = {"ca", "cert", "key"};
  for (int i = 0; i < 3; i++) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(tls, keys[i]);
    if (!cJSON_IsString(v) || !v->valuestring[0]) {
      snprintf(err, errlen, "tls.%s must be a PEM file (tls = { ca =, cert =, key = })", keys[i]);
      return -1;
    }
    char path[PATH_MAX];
    join(lab_dir, v->valuestring, path, sizeof path);
    if (access(path, R_OK) != 0) {
      snprintf(err, errlen, "tls.%s: file '%s' cannot be read", keys[i], path);
      return -1;
    }
    cJSON_SetValuestring(v, path);
  }
  return 0;
}

int lab_tls_check(cJSON *spec, const char *lab_dir, const char *image_dir, const char *device, char *err,
                  size_t errlen) {
  cJSON *tls = cJSON_GetObjectItemCaseSensitive(spec, "tls");
  if (!tls) return 0;
  if (cJSON_IsFalse(tls)) {
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "tls");
    return 0;
  }
  char dir[PATH_MAX];
  if (cJSON_IsTrue(tls)) {
    if (run_dir(image_dir, device, dir, sizeof dir, err, errlen) != 0 || make_pki(spec, dir, err, errlen) != 0) return -1;
    cJSON_ReplaceItemInObjectCaseSensitive(spec, "tls", tls = cJSON_CreateObject());
  } else if (!cJSON_IsObject(tls)) {
    snprintf(err, errlen, "tls must be true, false, { dir = \"pki\" } or { ca =, cert =, key = }");
    return -1;
  } else {
    for (cJSON *k = tls->child; k; k = k->next)
      if (strcmp(k->string, "dir") && strcmp(k->string, "ca") && strcmp(k->string, "cert") && strcmp(k->string, "key")) {
        snprintf(err, errlen, "tls.%s is unknown (dir, or ca, cert, key)", k->string);
        return -1;
      }
    cJSON *d = cJSON_GetObjectItemCaseSensitive(tls, "dir");
    if (!d) return own_files(tls, lab_dir, err, errlen);
    if (!cJSON_IsString(d) || !d->valuestring[0] || tls->child->next) {
      snprintf(err, errlen, "tls.dir must be a folder name, alone (or give ca, cert, key instead)");
      return -1;
    }
    join(lab_dir, d->valuestring, dir, sizeof dir);
    if (make_pki(spec, dir, err, errlen) != 0) return -1;
    cJSON_DeleteItemFromObjectCaseSensitive(tls, "dir");
  }
  if (!tls || set_files(tls, dir, "ca.pem", tls_pki_leaf_cert(TLS_PKI_SERVER), tls_pki_leaf_key(TLS_PKI_SERVER)) ||
      !cJSON_AddStringToObject(tls, "pki", dir)) {
    snprintf(err, errlen, "tls: out of memory");
    return -1;
  }
  return 0;
}
