/* atomic_file: temporary file, fsync, rename. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkostemp */
#endif
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void af__err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void af__err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* The directory holding `path`, so the rename itself is made durable. */
static void af__sync_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char dir[4096];
  if (!slash) {
    memcpy(dir, ".", 2);
  } else if (slash == path) {
    memcpy(dir, "/", 2);
  } else {
    size_t n = (size_t)(slash - path);
    if (n >= sizeof dir) return;
    memcpy(dir, path, n);
    dir[n] = '\0';
  }
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)fsync(fd); /* best effort: some filesystems refuse fsync on directories */
  close(fd);
}

int atomic_write_file(const char *path, const void *data, size_t len, char *err,
                      size_t errlen) {
  if (!path || !*path || (!data && len)) {
    af__err(err, errlen, "atomic_write_file: no path or data");
    return -1;
  }
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 16);
  if (!tmp) {
    af__err(err, errlen, "%s: out of memory", path);
    return -1;
  }
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp-XXXXXX", 12);
  int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) {
    af__err(err, errlen, "%s: cannot create a temporary file beside it: %s", path,
            strerror(errno));
    free(tmp);
    return -1;
  }
  const char *step = NULL;
  int e = 0;
  const char *p = data;
  size_t left = len;
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      e = n < 0 ? errno : EIO;
      step = "write";
      break;
    }
    p += n;
    left -= (size_t)n;
  }
  if (!step && fchmod(fd, 0644) != 0) e = errno, step = "chmod";
  if (!step && fsync(fd) != 0) e = errno, step = "fsync";
  if (close(fd) != 0 && !step) e = errno, step = "close";
  if (!step && rename(tmp, path) != 0) e = errno, step = "rename";
  if (step) {
    unlink(tmp);
    af__err(err, errlen, "%s: %s failed: %s", path, step, strerror(e));
    free(tmp);
    return -1;
  }
  free(tmp);
  af__sync_dir(path);
  return 0;
}
