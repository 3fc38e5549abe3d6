/* fsutil: the few file operations that must survive a power cut.
 *
 * A power cut is a SIGKILL of otadev: the kernel keeps what write() handed it,
 * so a temporary file + rename is atomic for us; the fsyncs make the same code
 * right on a real power cut too.
 */
#ifndef OTAHIL_EMU_FSUTIL_H
#define OTAHIL_EMU_FSUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Replaces `path` with `len` bytes of `data` atomically: writes `path`.tmp,
 * fsyncs it, renames it over `path` and fsyncs the directory. If `crash_hook`
 * is not NULL it is called between the write and the rename (a test injects a
 * power cut there). Returns 0, or -1 with `err` naming the file. */
int fs_write_atomic(const char *path, const void *data, size_t len,
                    void (*crash_hook)(void *), void *hook_arg, char *err, size_t errlen);

/* Reads the whole of `path` (at most `max` bytes) into a NUL-terminated
 * malloc'd buffer the caller frees. Returns NULL with `err` set on failure;
 * `*missing` (if not NULL) is set to 1 when the file does not exist. */
char *fs_read_all(const char *path, size_t max, size_t *len, int *missing, char *err,
                  size_t errlen);

/* Returns the size of `path`, or -1 if it cannot be stat'ed (e.g. missing). */
int64_t fs_size(const char *path);

/* Creates directory `path` if missing (one level, mode 0755). Returns 0 or -1. */
int fs_mkdir(const char *path, char *err, size_t errlen);

/* Joins `dir` and `name` into `buf`. Returns 0, or -1 if it does not fit. */
int fs_join(char *buf, size_t len, const char *dir, const char *name);

/* Sleeps `ms` milliseconds (restarting after signals). */
void fs_sleep_ms(long ms);

/* Writes all `n` bytes to fd (retrying short writes and EINTR). 0 or -1 (errno). */
int fs_write_all(int fd, const void *data, size_t n);

#endif
