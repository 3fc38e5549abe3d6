/* scenario: finding scenario files and reading their declaration.
 *
 * A scenario file returns a table:
 *   return { name = "happy path", timeout = 60, requires = {"power"}, tags = {"slow"},
 *            params = { {cut = 0.25}, {cut = 0.5} }, run = function(t) ... end }
 * `params` makes one case per set (its label "cut=0.5" goes into the case id,
 * the set itself into t.params).
 * Its dialect is the folder it stands in (scenarios/qcloud -> "qcloud") unless
 * it says `dialect = "..."`. Folders named "lib" are not scenarios. */
#ifndef OTAHIL_SCENARIO_H
#define OTAHIL_SCENARIO_H

#include <lua.h>
#include <stddef.h>

typedef struct scenario {
  char *file;    /* as found: "scenarios/qcloud/01_version.lua" */
  char *suite;   /* the folder's name: "qcloud" */
  char *base;    /* file name without .lua: "01_version" */
  char *name;    /* the declared name */
  char *dialect;
  double timeout; /* seconds, before the multiplier */
  char **requires;
  size_t nrequires;
  char **tags;
  size_t ntags;
  char **param_labels; /* "cut=0.5,rst=true" per set (keys sorted), or NULL */
  size_t nparams;
} scenario;

#define SCENARIO_PARAMS_MAX 256

/* Collects *.lua files under the paths (files or folders, recursively, sorted).
 * Returns 0, or -1 with err naming the path that does not exist. */
int scenario_find(char *const *paths, int npaths, char ***files, size_t *count, char *err,
                  size_t errlen);
void scenario_files_free(char **files, size_t count);

/* Reads the declaration from the table on top of L (the file's return value).
 * Returns 0, or -1 with err = "file: what is wrong". */
int scenario_read(lua_State *L, const char *file, scenario *out, char *err, size_t errlen);
void scenario_clear(scenario *s);

/* A deep copy of `src` into `dst` (each case owns its scenario). */
void scenario_copy(scenario *dst, const scenario *src);

/* "file:line" of the first line of `file` that sets `key` (key = ...), or "file:1". */
void scenario_key_where(const char *file, const char *key, char *out, size_t len);

#endif
