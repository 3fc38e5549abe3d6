/* select: which cases a run keeps (select.h). */
#include "select.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void select_add(const char ***list, int *n, const char *v) {
  const char **grown = realloc(*list, (size_t)(*n + 1) * sizeof *grown);
  if (!grown) abort();
  grown[(*n)++] = v;
  *list = grown;
}

void select_free(selection *s) {
  free(s->filters), free(s->excludes), free(s->tags), free(s->exclude_tags);
  memset(s, 0, sizeof *s);
}

static int any_glob(const char **globs, int n, const char *id) {
  for (int i = 0; i < n; i++)
    if (fnmatch(globs[i], id, 0) == 0) return 1;
  return 0;
}

static int any_tag(const char **want, int n, char *const *tags, size_t ntags) {
  for (int i = 0; i < n; i++)
    for (size_t j = 0; j < ntags; j++)
      if (strcmp(want[i], tags[j]) == 0) return 1;
  return 0;
}

static int tags_keep(const selection *s, char *const *tags, size_t ntags) {
  if (s->ntags && !any_tag(s->tags, s->ntags, tags, ntags)) return 0;
  return !any_tag(s->exclude_tags, s->nexclude_tags, tags, ntags);
}

int select_keeps(const selection *s, const char *id, char *const *tags, size_t ntags) {
  if (s->nfilters && !any_glob(s->filters, s->nfilters, id)) return 0;
  if (any_glob(s->excludes, s->nexcludes, id)) return 0;
  return tags_keep(s, tags, ntags);
}

int select_may_keep(const selection *s, const char *suite_base, char *const *tags, size_t ntags) {
  /* the id as far as it is known: "suite/base" or "suite/base@" ("qcloud/0*"
     matches, "*@emu1" not) */
  char id[1024];
  snprintf(id, sizeof id, "%s@", suite_base);
  if (s->nfilters && !any_glob(s->filters, s->nfilters, id) && !any_glob(s->filters, s->nfilters, suite_base))
    return 0;
  return tags_keep(s, tags, ntags);
}
