/* download_mqtt: fetches a firmware file as a series of blocks asked for one
 * at a time over MQTT (Aliyun's chunked download), into the same part file an
 * HTTP download would use, so a cut or a power cut resumes the same way.
 *
 * The transport is a dialect's: a blocksrc publishes a request and hands back
 * the reply once it arrived whole and intact (the dialect checks the framing
 * and the per-block CRC). This module only schedules: one request in flight,
 * a timeout per request, the same block asked again when its reply is lost.
 */
#ifndef OTAHIL_EMU_DOWNLOAD_MQTT_H
#define OTAHIL_EMU_DOWNLOAD_MQTT_H

#include <stddef.h>
#include <stdint.h>

#include "download.h"

typedef struct blocksrc {
  void *ctx;
  /* Publishes a request for `size` bytes at `offset` of `stream` (the
   * request's url, which the dialect chose). Returns 0 or -1. */
  int (*request)(void *ctx, const char *stream, uint64_t offset, uint32_t size);
  /* Takes the reply to the request in flight: 1 with `*data` (owned by the
   * source, valid until the next call) and `*len` set; 0 when none arrived
   * yet; -1 when the cloud refused the request (its reason in `why`); -2 when
   * a reply came broken (bad framing or CRC): ask again at once. */
  int (*take)(void *ctx, const unsigned char **data, size_t *len, char *why, size_t whylen);
  uint32_t block_size; /* 256 .. 131072 */
  long timeout_ms;     /* per request */
  int retries;         /* requests per block before giving up (>= 1) */
} blocksrc;

/* Downloads `o->size` bytes into `o->part_path` from `src`, resuming at the
 * part file's length when `o->resume`. `bugs` may hold BUG_BLOCK_OFF_BY_ONE
 * and BUG_NO_BLOCK_RETRY. `o->url` names the stream for the source; `stall_s`
 * and `backoff_ms` are not used;
 * `o->progress` is called about every 10 ms (it is how the caller receives the
 * replies). Returns DOWNLOAD_OK, DOWNLOAD_RETRIES (a block never came),
 * DOWNLOAD_NOT_FOUND (the cloud refused), DOWNLOAD_STOPPED or DOWNLOAD_IO, with
 * a reason in `msg`. */
download_status download_mqtt_run(const download_opts *o, const blocksrc *src, unsigned bugs,
                                  char *msg, size_t msglen);

/* CRC-16/ARC (IBM: polynomial 0x8005 reflected, initial value 0), the
 * checksum of each block in Aliyun's download_reply. */
uint16_t download_crc16(const unsigned char *p, size_t len);

#endif
