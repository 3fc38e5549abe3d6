/* case_path: the relative path a case's files are named by.
 *
 * A case id is "suite/base@device" (plus "[params]" and "#iteration" later):
 * its files go to logs/<suite>/<rest>.log, .console, .events.json and its
 * state to work/<suite>/<rest>/. The mapping is one-to-one (two ids never
 * share a file, whatever their characters: "x/y" and "x-y" stay apart),
 * safe (bytes other than [A-Za-z0-9._@=,+[]-] and a leading '.' are
 * %XX-escaped, so nothing climbs out with "..") and bounded (a part longer
 * than CASE_PATH_PART_MAX keeps its start and a hash of the whole). */
#ifndef OTAHIL_CASE_PATH_H
#define OTAHIL_CASE_PATH_H

#include <stddef.h>

#define CASE_PATH_PART_MAX 150

/* Writes "<suite>/<rest>" for `id` (the suite is what comes before the first
 * '/', or "%00", which no suite encodes to, when there is none). Returns 0, or -1 when `out` is too small
 * (it needs at most 2 * (CASE_PATH_PART_MAX + 1) bytes). */
int case_path(const char *id, char *out, size_t len);

#endif
