#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "errmsg.h"
#include "console.h"
#include "download.h"
#include "fsutil.h"

/* State of one HTTP attempt, shared with the curl callbacks. */
typedef struct attempt {
  const download_opts *o;
  CURL *curl;
  int fd;
  uint64_t start;  /* offset asked for with Range (0 = whole file) */
  uint64_t offset; /* bytes in the part file */
  uint64_t got;    /* body bytes written during this attempt */
  int checked;     /* the response status was looked at */
  int64_t range_start; /* from Content-Range, -1 if absent */
  int oversize, io_error, stopped, restart, stalled;
  double last_byte; /* monotonic seconds of the last body byte (or of the start) */
  char why[160];
} attempt;

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg) {
  attempt *a = arg;
  size_t len = size * n;
  if (len >= 5 && strncasecmp(buf, "HTTP/", 5) == 0) {
    /* A new response (e.g. after a redirect): forget the previous one's headers. */
    a->range_start = -1;
  } else if (len > 14 && strncasecmp(buf, "Content-Range:", 14) == 0) {
    char line[128];
    size_t k = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, buf, k);
    line[k] = 0;
    const char *p = strstr(line, "bytes");
    if (p) {
      p += 5;
      while (*p == ' ') p++;
      char *end = NULL;
      errno = 0;
      unsigned long long v = strtoull(p, &end, 10);
      if (errno == 0 && end != p && *end == '-') a->range_start = (int64_t)v;
    }
  }
  return len;
}

static int restart_from_zero(attempt *a) {
  if (ftruncate(a->fd, 0) != 0 || lseek(a->fd, 0, SEEK_SET) != 0) return -1;
  a->offset = 0;
  return 0;
}

/* Looks at the status of the response before its first body byte is kept. */
static int check_response(attempt *a) {
  long code = 0;
  curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &code);
  a->checked = 1;
  if (a->start == 0) return 0;
  if (code == 206) {
    if (a->range_start != (int64_t)a->start) {
      console_log("download: 206 starts at %lld, asked for %llu; restarting from 0",
                  (long long)a->range_start, (unsigned long long)a->start);
      a->restart = 1;
      return restart_from_zero(a) == 0 ? 1 : -1;
    }
    return 0;
  }
  console_log("download: server answered %ld to Range, restarting from 0", code);
  return restart_from_zero(a) == 0 ? 0 : -1;
}

static size_t on_write(char *buf, size_t size, size_t n, void *arg) {
  attempt *a = arg;
  size_t len = size * n;
  if (!a->checked) {
    int rc = check_response(a);
    if (rc < 0) {
      a->io_error = 1;
      errmsg(a->why, sizeof a->why, "cannot truncate %s: %s", a->o->part_path, strerror(errno));
      return 0;
    }
    if (rc > 0) return 0; /* abort this attempt; the next one starts at 0 */
  }
  if (a->offset + len > a->o->size) {
    a->oversize = 1;
    errmsg(a->why, sizeof a->why, "size mismatch: server sent more than %llu bytes",
             (unsigned long long)a->o->size);
    return 0;
  }
  if (fs_write_all(a->fd, buf, len) != 0) {
    a->io_error = 1;
    errmsg(a->why, sizeof a->why, "writing %s: %s", a->o->part_path, strerror(errno));
    return 0;
  }
  a->offset += len;
  a->got += len;
  a->last_byte = mono_s();
  /* Report from here too: a fast transfer may finish between two xferinfo calls. */
  if (a->o->progress && a->o->progress(a->o->ctx, a->offset, a->o->size)) {
    a->stopped = 1;
    return 0;
  }
  return len;
}

static int on_xfer(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                   curl_off_t ulnow) {
  (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
  attempt *a = arg;
  if (a->o->progress && a->o->progress(a->o->ctx, a->offset, a->o->size)) {
    a->stopped = 1;
    return 1;
  }
  /* Our own "no byte for stall_s" clock: curl's LOW_SPEED_* averages over its
   * window and notices a stall seconds late. */
  if (a->o->stall_s > 0 && mono_s() - a->last_byte >= (double)a->o->stall_s) {
    a->stalled = 1;
    return 1;
  }
  return 0;
}

/* Waits `ms` while still calling back, so a stop request is seen. */
static int backoff(const download_opts *o, uint64_t offset) {
  for (long left = o->backoff_ms; left > 0; left -= 50) {
    if (o->progress && o->progress(o->ctx, offset, o->size)) return 1;
    fs_sleep_ms(left < 50 ? left : 50);
  }
  return o->progress && o->progress(o->ctx, offset, o->size);
}

typedef enum { ATT_DONE, ATT_FINAL, ATT_RETRY } att_result;

static att_result run_attempt(const download_opts *o, download_status *st, uint64_t *offset,
                              uint64_t *got, char *msg, size_t msglen) {
  attempt a;
  memset(&a, 0, sizeof a);
  a.o = o;
  a.range_start = -1;
  a.fd = open(o->part_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (a.fd < 0) {
    errmsg(msg, msglen, "%s: %s", o->part_path, strerror(errno));
    *st = DOWNLOAD_IO;
    return ATT_FINAL;
  }
  int64_t have = fs_size(o->part_path);
  uint64_t start = (o->resume && have > 0) ? (uint64_t)have : 0;
  if (start > o->size) start = 0; /* more than the whole file: it cannot be this firmware */
  if (ftruncate(a.fd, (off_t)start) != 0 || lseek(a.fd, (off_t)start, SEEK_SET) < 0) {
    errmsg(msg, msglen, "%s: %s", o->part_path, strerror(errno));
    close(a.fd);
    *st = DOWNLOAD_IO;
    return ATT_FINAL;
  }
  a.start = a.offset = start;
  *offset = start;
  *got = 0;
  if (start == o->size) {
    close(a.fd);
    console_log("download complete already offset=%llu size=%llu", (unsigned long long)start,
                (unsigned long long)o->size);
    *st = DOWNLOAD_OK;
    return ATT_DONE;
  }
  CURL *c = curl_easy_init();
  if (!c) {
    close(a.fd);
    errmsg(msg, msglen, "curl_easy_init failed");
    *st = DOWNLOAD_IO;
    return ATT_FINAL;
  }
  a.curl = c;
  char range[48];
  snprintf(range, sizeof range, "%llu-", (unsigned long long)start);
  if (start > 0)
    console_log("download resume offset=%llu size=%llu (Range: bytes=%s)",
                (unsigned long long)start, (unsigned long long)o->size, range);
  else
    console_log("download start offset=0 size=%llu url=%s", (unsigned long long)o->size, o->url);
  curl_easy_setopt(c, CURLOPT_URL, o->url);
  if (start > 0) curl_easy_setopt(c, CURLOPT_RANGE, range);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xfer);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &a);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "otadev/0.1");
  if (o->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
  if (o->no_verify) curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
  if (o->no_verify || o->no_hostname) curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  if (o->stall_s > 0) curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o->stall_s);
  a.last_byte = mono_s();
  CURLcode rc = curl_easy_perform(c);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(c);
  int closed = close(a.fd);
  *offset = a.offset;
  *got = a.got;
  if (closed != 0 && !a.io_error) {
    a.io_error = 1;
    errmsg(a.why, sizeof a.why, "closing %s: %s", o->part_path, strerror(errno));
  }
  if (a.stopped) {
    errmsg(msg, msglen, "stopped");
    *st = DOWNLOAD_STOPPED;
    return ATT_FINAL;
  }
  if (a.io_error || a.oversize) {
    errmsg(msg, msglen, "%s", a.why);
    *st = a.io_error ? DOWNLOAD_IO : DOWNLOAD_OVERSIZE;
    return ATT_FINAL;
  }
  if (a.restart) return ATT_RETRY;
  if (rc == CURLE_OK) {
    if (a.offset == o->size) {
      console_log("download finished size=%llu", (unsigned long long)a.offset);
      *st = DOWNLOAD_OK;
      return ATT_DONE;
    }
    console_log("download: connection closed at offset=%llu of %llu",
                (unsigned long long)a.offset, (unsigned long long)o->size);
    errmsg(msg, msglen, "connection closed at %llu of %llu bytes",
             (unsigned long long)a.offset, (unsigned long long)o->size);
    return ATT_RETRY;
  }
  if (rc == CURLE_HTTP_RETURNED_ERROR) {
    console_log("download: HTTP %ld", code);
    if (code == 404) {
      errmsg(msg, msglen, "file does not exist (HTTP 404)");
      *st = DOWNLOAD_NOT_FOUND;
      return ATT_FINAL;
    }
    if (code == 403) {
      errmsg(msg, msglen, "signature expired (HTTP 403)");
      *st = DOWNLOAD_FORBIDDEN;
      return ATT_FINAL;
    }
    if (code == 416) {
      /* Our offset is past the server's file: it is not the same file. */
      if (unlink(o->part_path) != 0 && errno != ENOENT) {
        errmsg(msg, msglen, "%s: %s", o->part_path, strerror(errno));
        *st = DOWNLOAD_IO;
        return ATT_FINAL;
      }
    }
    errmsg(msg, msglen, "HTTP %ld", code);
    return ATT_RETRY;
  }
  if (a.stalled || rc == CURLE_OPERATION_TIMEDOUT) {
    console_log("download stalled: no byte for %ld s at offset=%llu", o->stall_s,
                (unsigned long long)a.offset);
    errmsg(msg, msglen, "time_out: no byte for %ld s at offset %llu", o->stall_s,
             (unsigned long long)a.offset);
    *st = DOWNLOAD_STALLED;
    return ATT_FINAL;
  }
  console_log("download: %s at offset=%llu", curl_easy_strerror(rc), (unsigned long long)a.offset);
  errmsg(msg, msglen, "%s at offset %llu", curl_easy_strerror(rc), (unsigned long long)a.offset);
  return ATT_RETRY;
}

download_status download_run(const download_opts *o, char *msg, size_t msglen) {
  int fails = 0;
  msg[0] = 0;
  for (;;) {
    download_status st = DOWNLOAD_IO;
    uint64_t offset = 0, got = 0;
    att_result r = run_attempt(o, &st, &offset, &got, msg, msglen);
    if (r != ATT_RETRY) return st;
    fails = got > 0 ? 0 : fails + 1;
    if (fails >= o->retries) {
      char last[200];
      snprintf(last, sizeof last, "%s", msg);
      errmsg(msg, msglen, "time_out: %d attempts without data (last: %s)", fails, last);
      console_log("download gave up after %d attempts without data", fails);
      return DOWNLOAD_RETRIES;
    }
    if (backoff(o, offset)) {
      errmsg(msg, msglen, "stopped");
      return DOWNLOAD_STOPPED;
    }
  }
}
