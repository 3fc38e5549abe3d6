#include "catalogue.h"

#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "rt.h"

typedef struct names {
  char **v;
  size_t n;
} names;

/* A timing knob the libraries read: the least value that makes sense. */
typedef struct knob {
  char *name;
  double least;
  int above; /* 1: strictly greater than least */
} knob;

struct catalogue {
  names features, strict, dialects, logins;
  knob *knobs;
  size_t nknobs;
};

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The string keys of the table `kind` of the table at the top of L, sorted; an optional
 * one may be missing (no names). */
static int read_names(lua_State *L, const char *file, const char *kind, int optional, names *out, char *err,
                      size_t errlen) {
  lua_getfield(L, -1, kind);
  if (optional && lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  if (!lua_istable(L, -1)) {
    snprintf(err, errlen, "%s: the catalogue has no table '%s'", file, kind);
    lua_pop(L, 1);
    return -1;
  }
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) continue;
    char **grown = realloc(out->v, (out->n + 1) * sizeof *grown);
    if (!grown) abort();
    out->v = grown;
    out->v[out->n++] = strdup(lua_tostring(L, -1));
  }
  lua_pop(L, 1);
  qsort(out->v, out->n, sizeof *out->v, cmp);
  return 0;
}

/* timing = { name = { above = N } | { least = N }, ... } (optional). */
static int read_knobs(lua_State *L, const char *file, catalogue *c, char *err, size_t errlen) {
  lua_getfield(L, -1, "timing");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  if (!lua_istable(L, -1)) {
    snprintf(err, errlen, "%s: timing must be a table of knobs", file);
    lua_pop(L, 1);
    return -1;
  }
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1)) {
      snprintf(err, errlen, "%s: timing.%s must be { above = N } or { least = N }", file,
               lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?");
      lua_pop(L, 3);
      return -1;
    }
    knob k = {strdup(lua_tostring(L, -2)), 0, 0};
    lua_getfield(L, -1, "above");
    lua_getfield(L, -2, "least");
    if (lua_isnumber(L, -2)) k.least = lua_tonumber(L, -2), k.above = 1;
    else if (lua_isnumber(L, -1)) k.least = lua_tonumber(L, -1);
    lua_pop(L, 3);
    knob *grown = realloc(c->knobs, (c->nknobs + 1) * sizeof *grown);
    if (!grown) abort();
    c->knobs = grown;
    c->knobs[c->nknobs++] = k;
  }
  lua_pop(L, 1);
  return 0;
}

catalogue *catalogue_load(const char *lib_dir, char *err, size_t errlen) {
  char file[PATH_MAX];
  snprintf(file, sizeof file, "%s/catalogue.lua", lib_dir);
  uv_loop_t loop;
  uv_loop_init(&loop);
  evlog *log = evlog_new();
  rt_config cfg = {.loop = &loop, .log = log, .lib_dir = lib_dir};
  catalogue *c = calloc(1, sizeof *c);
  rt *R = rt_new(&cfg, err, errlen);
  int ok = R && c && rt_load_file(R, file, err, errlen) == 0;
  if (ok) {
    lua_State *L = rt_lua(R);
    if (rt_pcall(R, 0, 1, err, errlen) != 0) {
      ok = 0;
    } else if (!lua_istable(L, -1)) {
      snprintf(err, errlen, "%s: the catalogue must return { features = {...}, strict = {...} }", file);
      ok = 0;
    } else {
      ok = read_names(L, file, "dialects", 0, &c->dialects, err, errlen) == 0 &&
           read_names(L, file, "features", 0, &c->features, err, errlen) == 0 &&
           read_names(L, file, "strict", 0, &c->strict, err, errlen) == 0 &&
           read_names(L, file, "logins", 1, &c->logins, err, errlen) == 0 &&
           read_knobs(L, file, c, err, errlen) == 0;
    }
  }
  rt_free(R);
  evlog_free(log);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  if (!ok) {
    catalogue_free(c);
    return NULL;
  }
  return c;
}

static void names_free(names *n) {
  for (size_t i = 0; i < n->n; i++) free(n->v[i]);
  free(n->v);
}

void catalogue_free(catalogue *c) {
  if (!c) return;
  names_free(&c->features);
  names_free(&c->strict);
  names_free(&c->dialects);
  names_free(&c->logins);
  for (size_t i = 0; i < c->nknobs; i++) free(c->knobs[i].name);
  free(c->knobs);
  free(c);
}

static const names *of(const catalogue *c, const char *kind) {
  if (strcmp(kind, "dialects") == 0) return &c->dialects;
  if (strcmp(kind, "logins") == 0) return &c->logins;
  return strcmp(kind, "strict") == 0 ? &c->strict : &c->features;
}

int catalogue_has(const catalogue *c, const char *kind, const char *name) {
  const names *n = of(c, kind);
  return bsearch(&name, n->v, n->n, sizeof *n->v, cmp) != NULL;
}

static void known(const names *n, char *out, size_t len) {
  size_t k = 0;
  out[0] = 0;
  for (size_t i = 0; i < n->n && k < len; i++)
    k += (size_t)snprintf(out + k, len - k, "%s%s", i ? ", " : "", n->v[i]);
}

/* A lab device's list (features, strict): every name known to the catalogue. */
static int check_list(const catalogue *c, const lab *l, const lab_device *d, const lab_list *list, const char *kind,
                      const char *what, char *err, size_t errlen) {
  for (size_t i = 0; i < list->n; i++) {
    if (catalogue_has(c, kind, list->v[i])) continue;
    char k[1024];
    known(of(c, kind), k, sizeof k);
    snprintf(err, errlen, "%s:%d: device '%s': %s '%s' is unknown (known: %s)", l->file, d->line, d->name, what,
             list->v[i], k);
    return -1;
  }
  return 0;
}

/* Each timing knob the catalogue names holds a value that makes sense. */
static int check_timing(const catalogue *c, const lab *l, const lab_device *d, char *err, size_t errlen) {
  for (size_t i = 0; i < c->nknobs; i++) {
    const knob *k = &c->knobs[i];
    double v;
    if (!lab_device_timing(d, k->name, &v)) continue;
    if (k->above ? v > k->least : v >= k->least) continue;
    snprintf(err, errlen, "%s:%d: device '%s': timing.%s must be %s %g (got %g)", l->file, d->line, d->name,
             k->name, k->above ? ">" : ">=", k->least, v);
    return -1;
  }
  return 0;
}

/* The device's dialect has a library: the catalogue's `dialects` names it. */
static int check_dialect(const catalogue *c, const lab *l, const lab_device *d, char *err, size_t errlen) {
  const char *dialect = d->dialect;
  if (!dialect || catalogue_has(c, "dialects", dialect)) return 0;
  char k[1024];
  known(&c->dialects, k, sizeof k);
  snprintf(err, errlen, "%s:%d: device '%s': dialect '%s' is unknown (known: %s)", l->file, d->line, d->name,
           dialect, k);
  return -1;
}

/* auth = "platform" only where the catalogue's `logins` names the device's dialect: the
 * dialect's library has a documented login to check (cloud.wire_login at case start). */
static int check_login(const catalogue *c, const lab *l, const lab_device *d, char *err, size_t errlen) {
  const char *dialect = d->dialect;
  if (!dialect || !d->auth_platform || catalogue_has(c, "logins", dialect)) return 0;
  char k[1024];
  known(&c->logins, k, sizeof k);
  snprintf(err, errlen,
           "%s:%d: device '%s': auth = \"platform\": the %s dialect has no documented login to check (the "
           "catalogue's logins: %s); leave auth out (\"none\": any login is taken)",
           l->file, d->line, d->name, dialect, *k ? k : "none");
  return -1;
}

int catalogue_check_lab(const catalogue *c, const lab *l, char *err, size_t errlen) {
  for (size_t i = 0; i < l->count; i++) {
    if (check_dialect(c, l, &l->devices[i], err, errlen) != 0 ||
        check_list(c, l, &l->devices[i], &l->devices[i].features, "features", "feature", err, errlen) != 0 ||
        check_list(c, l, &l->devices[i], &l->devices[i].strict, "strict", "strict rule", err, errlen) != 0 ||
        check_timing(c, l, &l->devices[i], err, errlen) != 0 || check_login(c, l, &l->devices[i], err, errlen) != 0)
      return -1;
  }
  return 0;
}

/* The first line of `file` holding "name" in quotes (1-based), or 0. */
static int line_naming(const char *file, const char *name) {
  FILE *f = fopen(file, "r");
  if (!f) return 0;
  char buf[4096], quoted[300];
  snprintf(quoted, sizeof quoted, "\"%s\"", name);
  int line = 0, found = 0;
  while (!found && fgets(buf, sizeof buf, f)) {
    line++;
    found = strstr(buf, quoted) != NULL;
  }
  fclose(f);
  return found ? line : 0;
}

int catalogue_check_scenario(const catalogue *c, const scenario *s, char *err, size_t errlen) {
  for (size_t i = 0; i < s->nrequires; i++) {
    if (catalogue_has(c, "features", s->requires[i])) continue;
    char k[1024];
    known(&c->features, k, sizeof k);
    int line = line_naming(s->file, s->requires[i]);
    snprintf(err, errlen, "%s:%d: requires '%s', which is not a feature (known: %s)", s->file, line ? line : 1,
             s->requires[i], k);
    return -1;
  }
  return 0;
}
