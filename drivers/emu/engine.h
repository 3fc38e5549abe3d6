/* engine: the dialect-neutral upgrade engine: download -> verify -> burn ->
 * switch slots. A dialect turns a cloud message into an engine_request and
 * turns each engine_report back into its own progress message.
 */
#ifndef OTAHIL_EMU_ENGINE_H
#define OTAHIL_EMU_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "flash.h"

#define ENGINE_URL_MAX 2048
#define ENGINE_MSG_MAX 256

typedef struct engine engine;

struct blocksrc; /* download_mqtt.h */
struct engine_hooks;

typedef struct engine_request {
  char version[FLASH_VERSION_MAX + 1];
  char url[ENGINE_URL_MAX];
  uint64_t size;
  char md5[33]; /* 32 hex digits; "" when the cloud sends only sha256 */
  /* Zero for the qcloud behaviour; used by aliyun and haas: */
  char sha256[65];     /* 64 hex digits to verify as well; "" = none */
  char module[33];     /* "" or "default": the firmware; else a module (modstore.h) */
  const struct blocksrc *blocks; /* not NULL: download these MQTT blocks, not `url` */
  /* quecthing SOTA: an image for an external MCU. When set, it is called after
   * the digest checks with the downloaded file, instead of burning; it may call
   * h->poll to stay responsive. Returns 0 (installed: engine_run returns
   * ENGINE_MODULE_DONE), 1 (stopped) or -1 with *reason and msg set. */
  int (*install)(void *ctx, const char *path, const struct engine_request *req,
                 const struct engine_hooks *h, int *reason, char *msg, size_t msglen);
  void *install_ctx;
} engine_request;

typedef enum engine_step {
  ENGINE_STEP_DOWNLOADING,
  ENGINE_STEP_BURNING,
  ENGINE_STEP_DONE,
  ENGINE_STEP_FAIL,
} engine_step;

/* Why an upgrade failed, in neutral terms; each dialect maps them to codes
 * (qcloud: -1 .. -5). */
typedef enum engine_fail {
  ENGINE_FAIL_NONE = 0,
  ENGINE_FAIL_DOWNLOAD,  /* stall, or retries exhausted */
  ENGINE_FAIL_NOT_FOUND, /* HTTP 404 */
  ENGINE_FAIL_FORBIDDEN, /* HTTP 403 */
  ENGINE_FAIL_DIGEST,    /* MD5 or size mismatch */
  ENGINE_FAIL_UPDATE,    /* rejected at burn, failed to boot, flash error */
} engine_fail;

typedef struct engine_report {
  engine_step step;
  int percent;        /* ENGINE_STEP_DOWNLOADING only */
  engine_fail reason; /* ENGINE_STEP_FAIL only */
  const char *msg;    /* "" unless failing */
  const char *version;
  const char *module; /* the request's module; NULL or "" = the firmware */
} engine_report;

typedef struct engine_hooks {
  void *ctx;
  /* Publish one step. */
  void (*report)(void *ctx, const engine_report *r);
  /* Called often while busy (handle MQTT events, notice SIGTERM); nonzero
   * asks the engine to stop at once. */
  int (*poll)(void *ctx);
} engine_hooks;

typedef struct engine_config {
  const char *dir;     /* the state directory */
  unsigned bugs;       /* BUG_* */
  long stall_s;        /* --download-timeout */
  int retries;         /* --retries */
  int progress_step;   /* --progress-step (percent) */
  long burn_ms;        /* --burn-ms */
  const char *ca_file; /* --ca: https:// URLs are verified against it (NULL: the system's CAs) */
} engine_config;

/* ENGINE_MODULE_DONE: a module other than the firmware was installed; no
 * reboot, the caller reports the versions again. */
enum { ENGINE_REBOOT = 0, ENGINE_FAILED = 1, ENGINE_STOPPED = 2, ENGINE_MODULE_DONE = 3 };

/* Creates an engine on `f` (borrowed, must outlive it). The breakpoint store
 * is opened here, so with the no-persist defect it lives as long as the
 * engine. Returns NULL with `err` set on failure. */
engine *engine_new(const engine_config *cfg, flash *f, char *err, size_t errlen);

/* Housekeeping at boot: drops a breakpoint for the version now running (a
 * power cut after the slot switch left it behind). */
void engine_boot_cleanup(engine *e);

/* Runs one upgrade. Returns ENGINE_REBOOT (slot switched, `done` reported:
 * the caller disconnects and boots again), ENGINE_FAILED (`fail` reported) or
 * ENGINE_STOPPED (poll asked to stop; nothing reported), or ENGINE_MODULE_DONE
 * (a module installed, `done` reported). */
int engine_run(engine *e, const engine_request *req, const engine_hooks *h);

void engine_free(engine *e);

#endif
