/* download: fetches a firmware file over HTTP(S) into a part file with
 * libcurl, resuming with Range, retrying broken connections and detecting
 * stalls. It runs on the caller's thread and calls back often, so the caller
 * stays responsive (MQTT messages, SIGTERM) while it runs.
 */
#ifndef OTAHIL_EMU_DOWNLOAD_H
#define OTAHIL_EMU_DOWNLOAD_H

#include <stddef.h>
#include <stdint.h>

typedef enum download_status {
  DOWNLOAD_OK = 0,    /* the part file holds exactly `size` bytes */
  DOWNLOAD_STALLED,   /* no byte for `stall_s` seconds */
  DOWNLOAD_RETRIES,   /* `retries` consecutive attempts received nothing */
  DOWNLOAD_NOT_FOUND, /* HTTP 404 */
  DOWNLOAD_FORBIDDEN, /* HTTP 403 (an expired signed URL) */
  DOWNLOAD_OVERSIZE,  /* the server sent more than `size` bytes */
  DOWNLOAD_STOPPED,   /* the progress callback asked to stop */
  DOWNLOAD_IO,        /* the part file could not be written */
} download_status;

typedef struct download_opts {
  const char *url;
  const char *part_path; /* appended to; truncated when the server starts over */
  uint64_t size;         /* the expected file size */
  int resume;            /* 1: continue from the part file's length with Range */
  long stall_s;          /* 0 disables stall detection */
  int retries;           /* >= 1 */
  long backoff_ms;       /* pause between attempts */
  const char *ca_file;   /* https: the CA to verify the server against (NULL: the system's) */
  int no_verify;         /* https: accept any certificate (the no-cert-verify defect) */
  int no_hostname;       /* https: verify the chain, not the name (no-hostname-check) */
  /* Called with the bytes held so far, whenever bytes arrive and at least
   * about once a second (also during backoff). Nonzero stops the download. */
  int (*progress)(void *ctx, uint64_t offset, uint64_t size);
  void *ctx;
} download_opts;

/* Downloads until the part file holds `size` bytes or a failure is final.
 * Prints a console line per attempt. Returns the status and, for failures, a
 * short reason in `msg` (also for the cloud's result_msg). The caller must
 * have called curl_global_init. */
download_status download_run(const download_opts *o, char *msg, size_t msglen);


#endif
