#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errmsg.h"
#include "fsutil.h"

int fs_join(char *buf, size_t len, const char *dir, const char *name) {
  int n = snprintf(buf, len, "%s/%s", dir, name);
  return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

static int fsync_dir_of(const char *path) {
  char copy[4096];
  size_t n = strlen(path);
  if (n >= sizeof copy) return -1;
  memcpy(copy, path, n + 1);
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

int fs_write_atomic(const char *path, const void *data, size_t len,
                    void (*crash_hook)(void *), void *hook_arg, char *err, size_t errlen) {
  char tmp[4096];
  int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
  if (n < 0 || (size_t)n >= sizeof tmp) {
    errmsg(err, errlen, "%s: path too long", path);
    return -1;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    errmsg(err, errlen, "%s: %s", tmp, strerror(errno));
    return -1;
  }
  const char *p = data;
  size_t left = len;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      errmsg(err, errlen, "%s: write: %s", tmp, strerror(errno));
      close(fd);
      unlink(tmp);
      return -1;
    }
    p += w;
    left -= (size_t)w;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    errmsg(err, errlen, "%s: fsync: %s", tmp, strerror(errno));
    unlink(tmp);
    return -1;
  }
  if (crash_hook) crash_hook(hook_arg);
  if (rename(tmp, path) != 0) {
    errmsg(err, errlen, "%s: rename: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  if (fsync_dir_of(path) != 0) {
    errmsg(err, errlen, "%s: fsync of its directory: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

char *fs_read_all(const char *path, size_t max, size_t *len, int *missing, char *err,
                  size_t errlen) {
  if (missing) *missing = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (missing && errno == ENOENT) *missing = 1;
    errmsg(err, errlen, "%s: %s", path, strerror(errno));
    return NULL;
  }
  char *buf = malloc(max + 1);
  if (!buf) {
    close(fd);
    errmsg(err, errlen, "%s: out of memory", path);
    return NULL;
  }
  size_t used = 0;
  for (;;) {
    if (used == max) {
      /* One more byte would not fit: the file is larger than we accept. */
      char extra;
      ssize_t r = read(fd, &extra, 1);
      if (r > 0) {
        errmsg(err, errlen, "%s: larger than %zu bytes", path, max);
        free(buf);
        close(fd);
        return NULL;
      }
      break;
    }
    ssize_t r = read(fd, buf + used, max - used);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      errmsg(err, errlen, "%s: read: %s", path, strerror(errno));
      free(buf);
      close(fd);
      return NULL;
    }
    if (r == 0) break;
    used += (size_t)r;
  }
  close(fd);
  buf[used] = 0;
  if (len) *len = used;
  return buf;
}

int64_t fs_size(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return -1;
  return (int64_t)st.st_size;
}

int fs_mkdir(const char *path, char *err, size_t errlen) {
  if (mkdir(path, 0755) == 0 || errno == EEXIST) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    errmsg(err, errlen, "%s: not a directory", path);
    return -1;
  }
  errmsg(err, errlen, "%s: %s", path, strerror(errno));
  return -1;
}

void fs_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

int fs_write_all(int fd, const void *data, size_t n) {
  const char *p = data;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}
