#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bugs.h"
#include "console.h"
#include "download_mqtt.h"
#include "errmsg.h"
#include "fsutil.h"

static long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint16_t download_crc16(const unsigned char *p, size_t len) {
  uint16_t crc = 0;
  while (len--) {
    crc ^= *p++;
    for (int i = 0; i < 8; i++) crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
  }
  return crc;
}

/* Waits for the reply to the request in flight, asking again on timeout.
 * Returns 1 (data), 0 (stopped), or a final status < 0 as -(status). */
static int wait_block(const download_opts *o, const blocksrc *src, unsigned bugs, uint64_t offset,
                      uint32_t want, const unsigned char **data, size_t *len, char *msg, size_t msglen) {
  int asked = 1;
  long t0 = mono_ms();
  for (;;) {
    if (o->progress && o->progress(o->ctx, offset, o->size)) return 0;
    char why[160] = "";
    int rc = src->take(src->ctx, data, len, why, sizeof why);
    if (rc > 0) {
      if (*len == want) return 1;
      console_log("block at offset=%llu: %zu bytes instead of %u, asking again",
                  (unsigned long long)offset, *len, want);
    } else if (rc == -1) {
      errmsg(msg, msglen, "the cloud refused block offset=%llu size=%u: %s",
             (unsigned long long)offset, want, why);
      return -DOWNLOAD_NOT_FOUND;
    } else if (rc < 0) {
      console_log("block at offset=%llu came broken (%s), asking again", (unsigned long long)offset, why);
    } else if (mono_ms() - t0 < src->timeout_ms) {
      fs_sleep_ms(10);
      continue;
    } else if (bugs & BUG_NO_BLOCK_RETRY) {
      /* The defect: a client that trusts every request to be answered. */
      console_log("no reply for block at offset=%llu, waiting on", (unsigned long long)offset);
      t0 = mono_ms() + 3600L * 1000;
      continue;
    } else {
      console_log("no reply for block at offset=%llu within %ld ms (request %d of %d)",
                  (unsigned long long)offset, src->timeout_ms, asked, src->retries);
    }
    if (asked >= src->retries) {
      errmsg(msg, msglen, "download failed: no valid reply for block offset=%llu after %d requests",
             (unsigned long long)offset, asked);
      return -DOWNLOAD_RETRIES;
    }
    asked++;
    if (src->request(src->ctx, o->url, offset, want) != 0) {
      errmsg(msg, msglen, "cannot publish the request for block offset=%llu", (unsigned long long)offset);
      return -DOWNLOAD_RETRIES;
    }
    t0 = mono_ms();
  }
}

download_status download_mqtt_run(const download_opts *o, const blocksrc *src, unsigned bugs,
                                  char *msg, size_t msglen) {
  msg[0] = 0;
  int fd = open(o->part_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    errmsg(msg, msglen, "%s: %s", o->part_path, strerror(errno));
    return DOWNLOAD_IO;
  }
  int64_t have = fs_size(o->part_path);
  uint64_t offset = (o->resume && have > 0 && (uint64_t)have <= o->size) ? (uint64_t)have : 0;
  if (ftruncate(fd, (off_t)offset) != 0 || lseek(fd, (off_t)offset, SEEK_SET) < 0) {
    errmsg(msg, msglen, "%s: %s", o->part_path, strerror(errno));
    close(fd);
    return DOWNLOAD_IO;
  }
  console_log("block download start offset=%llu size=%llu block=%u", (unsigned long long)offset,
              (unsigned long long)o->size, src->block_size);
  download_status st = DOWNLOAD_OK;
  while (offset < o->size) {
    uint64_t left = o->size - offset;
    uint32_t want = left < src->block_size ? (uint32_t)left : src->block_size;
    if (src->request(src->ctx, o->url, offset, want) != 0) {
      errmsg(msg, msglen, "cannot publish the request for block offset=%llu", (unsigned long long)offset);
      st = DOWNLOAD_RETRIES;
      break;
    }
    const unsigned char *data = NULL;
    size_t len = 0;
    int rc = wait_block(o, src, bugs, offset, want, &data, &len, msg, msglen);
    if (rc == 0) {
      errmsg(msg, msglen, "stopped");
      st = DOWNLOAD_STOPPED;
      break;
    }
    if (rc < 0) {
      st = (download_status)-rc;
      break;
    }
    if (fs_write_all(fd, data, len) != 0) {
      errmsg(msg, msglen, "writing %s: %s", o->part_path, strerror(errno));
      st = DOWNLOAD_IO;
      break;
    }
    offset += len;
    /* The defect: the next request skips a byte (an off-by-one in the
     * offset arithmetic); the byte is missing from the part file. */
    if ((bugs & BUG_BLOCK_OFF_BY_ONE) && offset < o->size) offset++;
  }
  close(fd);
  if (st == DOWNLOAD_OK) {
    if (o->progress && o->progress(o->ctx, offset, o->size)) return DOWNLOAD_STOPPED;
    console_log("block download complete offset=%llu", (unsigned long long)offset);
  }
  return st;
}
