#include "scenario.h"

#include <dirent.h>
#include <ctype.h>
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
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

void scenario_key_where(const char *file, const char *key, char *out, size_t len) {
  FILE *f = fopen(file, "r");
  char line[4096];
  int n = 0, found = 0;
  size_t k = strlen(key);
  while (f && !found && fgets(line, sizeof line, f)) {
    n++;
    for (char *p = strstr(line, key); p && !found; p = strstr(p + 1, key)) {
      int word = (p == line || !(isalnum((unsigned char)p[-1]) || p[-1] == '_'));
      char *q = p + k;
      while (*q == ' ' || *q == '\t') q++;
      found = word && *q == '=' && q[1] != '=';
    }
  }
  if (f) fclose(f);
  snprintf(out, len, "%s:%d", file, found ? n : 1);
}

/* A list of names (requires, tags) at t[key]: strings only. */
static int read_names(lua_State *L, int t, const char *key, char ***out, size_t *count, const char *file,
                      char *err, size_t errlen) {
  char where[PATH_MAX + 32];
  lua_getfield(L, t, key);
  int ok = lua_isnil(L, -1) || lua_istable(L, -1);
  size_t n = lua_istable(L, -1) ? lua_rawlen(L, -1) : 0;
  *out = calloc(n + 1, sizeof **out);
  if (!*out) abort();
  for (size_t i = 1; ok && i <= n; i++) {
    lua_rawgeti(L, -1, (lua_Integer)i);
    ok = lua_type(L, -1) == LUA_TSTRING;
    if (ok) (*out)[(*count)++] = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  if (ok) return 0;
  scenario_key_where(file, key, where, sizeof where);
  snprintf(err, errlen, "%s: %s must be a list of names, e.g. %s = { \"a\", \"b\" }", where, key, key);
  return -1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The label of the parameter set on top of L: "k=v,..." with the keys sorted;
 * NULL when a key is not a name or a value is not a number, string or boolean. */
static char *param_label(lua_State *L) {
  char *keys[64], label[1024] = "";
  int n = 0, ok = 1;
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    int t = lua_type(L, -1);
    ok = ok && n < 64 && lua_type(L, -2) == LUA_TSTRING && (t == LUA_TNUMBER || t == LUA_TSTRING || t == LUA_TBOOLEAN);
    if (ok) keys[n++] = strdup(lua_tostring(L, -2));
    lua_pop(L, 1);
  }
  if (ok) qsort(keys, (size_t)n, sizeof *keys, cmp_str);
  for (int i = 0; ok && i < n; i++) {
    lua_getfield(L, -1, keys[i]);
    size_t len = strlen(label);
    snprintf(label + len, sizeof label - len, "%s%s=%s", i ? "," : "", keys[i],
             lua_isboolean(L, -1) ? (lua_toboolean(L, -1) ? "true" : "false") : lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  for (int i = 0; i < n; i++) free(keys[i]);
  return ok && n ? strdup(label) : NULL;
}

static int read_params(lua_State *L, int t, scenario *s, const char *file, char *err, size_t errlen) {
  char where[PATH_MAX + 32];
  lua_getfield(L, t, "params");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  size_t n = lua_istable(L, -1) ? lua_rawlen(L, -1) : 0;
  int ok = n > 0 && n <= SCENARIO_PARAMS_MAX;
  s->param_labels = calloc(n + 1, sizeof *s->param_labels);
  if (!s->param_labels) abort();
  for (size_t i = 1; ok && i <= n; i++) {
    lua_rawgeti(L, -1, (lua_Integer)i);
    char *label = lua_istable(L, -1) ? param_label(L) : NULL;
    lua_pop(L, 1);
    for (size_t j = 0; label && j < s->nparams; j++)
      if (strcmp(s->param_labels[j], label) == 0) ok = 0; /* two cases with one id */
    if (label) s->param_labels[s->nparams++] = label;
    ok = ok && label;
  }
  lua_pop(L, 1);
  if (ok) return 0;
  scenario_key_where(file, "params", where, sizeof where);
  snprintf(err, errlen,
           "%s: params must be a list of 1 to %d different sets of named numbers, strings or booleans, "
           "e.g. params = { {cut = 0.25}, {cut = 0.5} }",
           where, SCENARIO_PARAMS_MAX);
  return -1;
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
  if (read_names(L, t, "requires", &s->requires, &s->nrequires, file, err, errlen) != 0 ||
      read_names(L, t, "tags", &s->tags, &s->ntags, file, err, errlen) != 0 ||
      read_params(L, t, s, file, err, errlen) != 0) {
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
  for (size_t i = 0; i < s->ntags; i++) free(s->tags[i]);
  free(s->tags);
  for (size_t i = 0; i < s->nparams; i++) free(s->param_labels[i]);
  free(s->param_labels);
  memset(s, 0, sizeof *s);
}

static char **copy_list(char *const *v, size_t n) {
  if (!v) return NULL;
  char **c = calloc(n + 1, sizeof *c);
  if (!c) abort();
  for (size_t i = 0; i < n; i++) c[i] = strdup(v[i]);
  return c;
}

void scenario_copy(scenario *dst, const scenario *src) {
  *dst = *src;
  dst->file = strdup(src->file), dst->suite = strdup(src->suite), dst->base = strdup(src->base);
  dst->name = strdup(src->name), dst->dialect = strdup(src->dialect);
  dst->requires = copy_list(src->requires, src->nrequires);
  dst->tags = copy_list(src->tags, src->ntags);
  dst->param_labels = copy_list(src->param_labels, src->nparams);
}
