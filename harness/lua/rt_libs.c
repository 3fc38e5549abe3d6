/* rt_libs: the library folders of `require` (see rt_libs.h). */
#include "rt_libs.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* `path` resolved lies inside the resolved folder `dir`. */
static int inside(const char *dir, const char *path) {
  char rd[PATH_MAX], rp[PATH_MAX];
  if (!realpath(dir, rd) || !realpath(path, rp)) return 0;
  size_t n = strlen(rd);
  return strncmp(rp, rd, n) == 0 && rp[n] == '/';
}

static int is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Walks `dir`/`rel` for .lua files; -1 with err at the first that shadows lib_dir's. */
static int walk(const char *lib_dir, const char *dir, const char *rel, int depth, char *err, size_t errlen) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s%s%s", dir, rel[0] ? "/" : "", rel);
  DIR *d = opendir(path);
  if (!d) return 0;
  int rc = 0;
  struct dirent *e;
  while (rc == 0 && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char sub[PATH_MAX], full[PATH_MAX * 2], std[PATH_MAX * 2];
    snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
    snprintf(full, sizeof full, "%s/%s", dir, sub);
    struct stat st;
    if (stat(full, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (depth < 8) rc = walk(lib_dir, dir, sub, depth + 1, err, errlen);
      continue;
    }
    size_t n = strlen(sub);
    if (n < 5 || strcmp(sub + n - 4, ".lua") != 0) continue;
    snprintf(std, sizeof std, "%s/%s", lib_dir, sub);
    if (is_file(std)) {
      snprintf(err, errlen, "%s would shadow the standard module %s (a lab library adds modules, it may not replace one: rename it)",
               full, std);
      rc = -1;
    }
  }
  closedir(d);
  return rc;
}

int rt_libs_check(const char *lib_dir, const char *const *dirs, char *err, size_t errlen) {
  for (size_t i = 0; dirs && dirs[i]; i++) {
    struct stat st;
    if (stat(dirs[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
      snprintf(err, errlen, "library folder %s: not a folder", dirs[i]);
      return -1;
    }
    if (lib_dir && walk(lib_dir, dirs[i], "", 0, err, errlen) != 0) return -1;
  }
  return 0;
}

int rt_libs_find(const char *lib_dir, const char *const *dirs, const char *rel, char *out, size_t outlen) {
  if (lib_dir) {
    int n = snprintf(out, outlen, "%s/%s", lib_dir, rel);
    if (n > 0 && (size_t)n < outlen && is_file(out)) return 0;
  }
  for (size_t i = 0; dirs && dirs[i]; i++) {
    int n = snprintf(out, outlen, "%s/%s", dirs[i], rel);
    if (n > 0 && (size_t)n < outlen && is_file(out) && inside(dirs[i], out)) return 0;
  }
  return -1;
}

static int prefix(const char *dir, const char *file) {
  size_t n = strlen(dir);
  return strncmp(file, dir, n) == 0 && file[n] == '/';
}

int rt_libs_holds(const char *lib_dir, const char *const *dirs, const char *file) {
  if (lib_dir && prefix(lib_dir, file)) return 1;
  for (size_t i = 0; dirs && dirs[i]; i++)
    if (prefix(dirs[i], file)) return 1;
  return 0;
}
