#include "scenario.h"

#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct vec {
  char **v;
  size_t n, cap;
} vec;

static void push(vec *v, const char *s) {
  if (v->n == v->cap) {
    v->cap = v->cap ? v->cap * 2 : 32;
    v->v = realloc(v->v, v->cap * sizeof *v->v);
    if (!v->v) abort();
  }
  v->v[v->n++] = strdup(s);
}

static int ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

static void walk(const char *dir, vec *out) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat st;
    if (stat(p, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (strcmp(e->d_name, "lib") != 0) walk(p, out);
    } else if (S_ISREG(st.st_mode) && ends_with(e->d_name, ".lua")) {
      push(out, p);
    }
  }
  closedir(d);
}

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int scenario_find(char *const *paths, int npaths, char ***files, size_t *count, char *err,
                  size_t errlen) {
  vec v = {0};
  for (int i = 0; i < npaths; i++) {
    char p[4096];
    snprintf(p, sizeof p, "%s", paths[i]);
    size_t len = strlen(p);
    while (len > 1 && p[len - 1] == '/') p[--len] = 0;
    struct stat st;
    if (stat(p, &st) != 0) {
      snprintf(err, errlen, "%s: %s", p, strerror(errno));
      scenario_files_free(v.v, v.n);
      return -1;
    }
    if (S_ISDIR(st.st_mode)) walk(p, &v);
    else push(&v, p);
  }
  qsort(v.v, v.n, sizeof *v.v, cmp);
  /* the same file named twice runs once */
  size_t k = 0;
  for (size_t i = 0; i < v.n; i++) {
    if (k && strcmp(v.v[k - 1], v.v[i]) == 0) free(v.v[i]);
    else v.v[k++] = v.v[i];
  }
  *files = v.v;
  *count = k;
  return 0;
}

void scenario_files_free(char **files, size_t count) {
  for (size_t i = 0; i < count; i++) free(files[i]);
  free(files);
}

static char *folder_name(const char *file) {
  const char *slash = strrchr(file, '/');
  if (!slash) return strdup(".");
  const char *start = slash;
  while (start > file && start[-1] != '/') start--;
  return strndup(start, (size_t)(slash - start));
}

static char *base_name(const char *file) {
  const char *slash = strrchr(file, '/');
  const char *b = slash ? slash + 1 : file;
  size_t n = strlen(b);
  if (ends_with(b, ".lua")) n -= 4;
  return strndup(b, n);
}

int scenario_read(lua_State *L, const char *file, scenario *s, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  if (!lua_istable(L, -1)) {
    snprintf(err, errlen, "%s: a scenario file must return a table { name = ..., run = function(t) ... end }", file);
    return -1;
  }
  int t = lua_gettop(L);
  lua_getfield(L, t, "name");
  if (!lua_isstring(L, -1)) {
    snprintf(err, errlen, "%s: the scenario needs a name (name = \"...\")", file);
    lua_settop(L, t);
    return -1;
  }
  s->name = strdup(lua_tostring(L, -1));
  lua_getfield(L, t, "run");
  if (!lua_isfunction(L, -1)) {
    snprintf(err, errlen, "%s: the scenario needs run = function(t) ... end", file);
    lua_settop(L, t);
    scenario_clear(s);
    return -1;
  }
  lua_getfield(L, t, "timeout");
  s->timeout = 60;
  if (!lua_isnil(L, -1)) {
    /* NaN passes a "<= 0" test, and a huge value overflows the timer: both are refused */
    if (!lua_isnumber(L, -1) || !(lua_tonumber(L, -1) > 0 && lua_tonumber(L, -1) <= 86400)) {
      snprintf(err, errlen, "%s: timeout must be a number of seconds > 0 and at most 86400 (a day)", file);
      lua_settop(L, t);
      scenario_clear(s);
      return -1;
    }
    s->timeout = lua_tonumber(L, -1);
  }
  s->file = strdup(file);
  s->suite = folder_name(file);
  s->base = base_name(file);
  lua_getfield(L, t, "dialect");
  s->dialect = strdup(lua_isstring(L, -1) ? lua_tostring(L, -1) : s->suite);
  lua_getfield(L, t, "requires");
  if (lua_istable(L, -1)) {
    size_t n = lua_rawlen(L, -1);
    s->requires = calloc(n + 1, sizeof *s->requires);
    for (size_t i = 1; i <= n; i++) {
      lua_rawgeti(L, -1, (lua_Integer)i);
      if (!lua_isstring(L, -1)) {
        snprintf(err, errlen, "%s: requires must be a list of feature names", file);
        lua_settop(L, t);
        scenario_clear(s);
        return -1;
      }
      s->requires[s->nrequires++] = strdup(lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  } else if (!lua_isnil(L, -1)) {
    snprintf(err, errlen, "%s: requires must be a list of feature names", file);
    lua_settop(L, t);
    scenario_clear(s);
    return -1;
  }
  lua_settop(L, t);
  return 0;
}

void scenario_clear(scenario *s) {
  free(s->file);
  free(s->suite);
  free(s->base);
  free(s->name);
  free(s->dialect);
  for (size_t i = 0; i < s->nrequires; i++) free(s->requires[i]);
  free(s->requires);
  memset(s, 0, sizeof *s);
}
