/* atomic_file: replace a file so that readers see the old or the new content,
 * never a part: write a temporary file in the same directory, fsync it, rename
 * it over the target, fsync the directory. */
#ifndef OTAHIL_ATOMIC_FILE_H
#define OTAHIL_ATOMIC_FILE_H

#include <stddef.h>

/* Writes `len` bytes of `data` to `path` atomically, mode 0644.
 * Returns 0, or -1 with `err` naming the path and the failing step; on failure
 * the previous file at `path` (if any) is untouched and no temporary is left. */
int atomic_write_file(const char *path, const void *data, size_t len, char *err,
                      size_t errlen);

#endif
