/* select: which cases a run keeps (--filter, --exclude, --tag, --exclude-tag).
 *
 * A case is kept when its id matches any --filter glob (or there is none), it
 * has any --tag (or there is none), matches no --exclude glob and has no
 * --exclude-tag. Globs are fnmatch(3) patterns on the whole case id
 * ("qcloud/03_resume_after_cut[cut=0.5]@emu-qcloud"). */
#ifndef OTAHIL_SELECT_H
#define OTAHIL_SELECT_H

#include <stddef.h>

typedef struct selection {
  const char **filters, **excludes, **tags, **exclude_tags;
  int nfilters, nexcludes, ntags, nexclude_tags;
} selection;

/* Appends `v` to the list (*list, *n); aborts when out of memory. */
void select_add(const char ***list, int *n, const char *v);
void select_free(selection *s);

/* 1 if the case with this id and these tags is kept, else 0. */
int select_keeps(const selection *s, const char *id, char *const *tags, size_t ntags);

/* 1 if a case of this scenario ("suite/base", before the device is known)
 * could be kept: for saying that a selected scenario made no case. */
int select_may_keep(const selection *s, const char *suite_base, char *const *tags, size_t ntags);

#endif
