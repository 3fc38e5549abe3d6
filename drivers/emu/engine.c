#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "errmsg.h"
#include "breakpoint.h"
#include "bugs.h"
#include "console.h"
#include "digest.h"
#include "download.h"
#include "download_mqtt.h"
#include "engine.h"
#include "fsutil.h"
#include "fwimage.h"
#include "modstore.h"

#define BURN_STEPS 10

struct engine {
  engine_config cfg;
  char dir[4096];
  flash *f;
  breakpoint *bp;
};

/* One upgrade in progress. */
typedef struct run {
  engine *e;
  const engine_request *req;
  const engine_hooks *h;
  int last_pct; /* last percent reported, -1 before the first */
  int went_backwards;
  const char *ident; /* what the breakpoint is recorded under: md5, else sha256's first 32 digits */
} run;

static void report(run *r, engine_step step, int pct, engine_fail reason, const char *msg) {
  engine_report rep = {step, pct, reason, msg ? msg : "", r->req->version, r->req->module};
  r->h->report(r->h->ctx, &rep);
}

static void report_percent(run *r, int pct) {
  int step = r->e->cfg.progress_step > 0 ? r->e->cfg.progress_step : 10;
  int shown = pct >= 100 ? 100 : pct / step * step;
  if (shown <= r->last_pct) return;
  if ((r->e->cfg.bugs & BUG_PROGRESS_BACKWARDS) && !r->went_backwards && r->last_pct >= 40 &&
      shown < 100) {
    /* The defect: one report goes down (e.g. 30 after 40), as when a buggy
     * client recomputes percent from a restarted counter. */
    r->went_backwards = 1;
    int back = r->last_pct - step < 0 ? 0 : r->last_pct - step;
    console_log("downloading percent=%d", back);
    report(r, ENGINE_STEP_DOWNLOADING, back, ENGINE_FAIL_NONE, "");
    return;
  }
  r->last_pct = shown;
  console_log("downloading percent=%d", shown);
  report(r, ENGINE_STEP_DOWNLOADING, shown, ENGINE_FAIL_NONE, "");
}

static int on_progress(void *ctx, uint64_t offset, uint64_t size) {
  run *r = ctx;
  if (r->h->poll && r->h->poll(r->h->ctx)) return 1;
  report_percent(r, size ? (int)(offset * 100 / size) : 100);
  return 0;
}

static int poll_stop(run *r) { return r->h->poll && r->h->poll(r->h->ctx); }

engine *engine_new(const engine_config *cfg, flash *f, char *err, size_t errlen) {
  engine *e = calloc(1, sizeof *e);
  if (!e) {
    errmsg(err, errlen, "engine: out of memory");
    return NULL;
  }
  size_t n = strlen(cfg->dir);
  if (n >= sizeof e->dir) {
    errmsg(err, errlen, "engine: state directory path too long");
    free(e);
    return NULL;
  }
  memcpy(e->dir, cfg->dir, n + 1);
  e->cfg = *cfg;
  e->cfg.dir = e->dir;
  e->f = f;
  e->bp = breakpoint_open(e->dir, !(cfg->bugs & BUG_NO_PERSIST), err, errlen);
  if (!e->bp) {
    free(e);
    return NULL;
  }
  return e;
}

void engine_boot_cleanup(engine *e) {
  const char *v = breakpoint_version(e->bp);
  if (v && strcmp(v, flash_active_version(e->f)) == 0) {
    char err[256];
    console_log("dropping breakpoint of the running version %s", v);
    if (breakpoint_clear(e->bp, err, sizeof err) != 0) console_log("breakpoint: %s", err);
  }
}

static int fail(run *r, engine_fail reason, const char *msg, int drop_breakpoint) {
  static const char *names[] = {"none", "download", "not-found", "forbidden", "digest", "update"};
  console_log("upgrade failed: %s: %s", names[reason], msg);
  if (drop_breakpoint) {
    char err[256];
    if (breakpoint_clear(r->e->bp, err, sizeof err) != 0) console_log("breakpoint: %s", err);
  }
  report(r, ENGINE_STEP_FAIL, 0, reason, msg);
  return ENGINE_FAILED;
}

/* Chooses where the download starts, per the breakpoint and the defects. */
static int prepare_breakpoint(run *r, int *resume, char *err, size_t errlen) {
  engine *e = r->e;
  const engine_request *q = r->req;
  uint64_t off = breakpoint_offset(e->bp);
  char desc[256];
  breakpoint_describe(e->bp, desc, sizeof desc);
  *resume = 1;
  if (e->cfg.bugs & BUG_NO_RESUME) {
    *resume = 0;
    console_log("breakpoint ignored, downloading from 0");
    return breakpoint_begin(e->bp, q->version, r->ident, q->size, err, errlen);
  }
  if ((e->cfg.bugs & BUG_STALE_RESUME) && off > 0) {
    console_log("resuming the part file at offset=%llu without checking it (breakpoint: %s)",
                (unsigned long long)off, desc);
    return breakpoint_record(e->bp, q->version, r->ident, q->size, err, errlen);
  }
  if (breakpoint_matches(e->bp, q->version, r->ident, q->size)) {
    console_log("breakpoint matches: resume at offset=%llu", (unsigned long long)off);
    return 0;
  }
  if (breakpoint_has_record(e->bp) || off > 0)
    console_log("dropping stale breakpoint (%s, part=%llu bytes)", desc, (unsigned long long)off);
  return breakpoint_begin(e->bp, q->version, r->ident, q->size, err, errlen);
}

/* Copies the image into `slot_path` in BURN_STEPS writes spread over burn_ms,
 * so a power cut can land in the middle. Returns 0, 1 (stopped) or -1. */
static int burn(run *r, const char *src, const char *slot_path, char *err, size_t errlen) {
  int in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    errmsg(err, errlen, "%s: %s", src, strerror(errno));
    return -1;
  }
  int out = open(slot_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    errmsg(err, errlen, "%s: %s", slot_path, strerror(errno));
    close(in);
    return -1;
  }
  uint64_t total = r->req->size, done = 0;
  uint64_t chunk = total / BURN_STEPS + 1;
  long pause = r->e->cfg.burn_ms / BURN_STEPS;
  char *buf = malloc(65536);
  int rc = buf ? 0 : -1;
  if (!buf) errmsg(err, errlen, "burn: out of memory");
  for (int stepno = 1; rc == 0 && done < total; stepno++) {
    uint64_t goal = done + chunk > total ? total : done + chunk;
    while (rc == 0 && done < goal) {
      size_t want = goal - done > 65536 ? 65536 : (size_t)(goal - done);
      ssize_t n = read(in, buf, want);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        errmsg(err, errlen, "%s: short read at %llu", src, (unsigned long long)done);
        rc = -1;
        break;
      }
      for (ssize_t off = 0; off < n;) {
        ssize_t w = write(out, buf + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          errmsg(err, errlen, "%s: write: %s", slot_path, strerror(errno));
          rc = -1;
          break;
        }
        off += w;
      }
      done += (uint64_t)n;
    }
    if (rc != 0) break;
    console_log("burning step %d/%d (%llu bytes)", stepno, BURN_STEPS, (unsigned long long)done);
    for (long left = pause; left > 0; left -= 20) {
      if (poll_stop(r)) {
        rc = 1;
        break;
      }
      fs_sleep_ms(left < 20 ? left : 20);
    }
  }
  free(buf);
  if (rc == 0 && fsync(out) != 0) {
    errmsg(err, errlen, "%s: fsync: %s", slot_path, strerror(errno));
    rc = -1;
  }
  close(out);
  close(in);
  return rc;
}

/* Checks the part file against the request's SHA-256. Returns 0 or -1 with
 * the reason in `msg`. */
static int verify_sha256(run *r, const char *part, char *msg, size_t msglen) {
  if (r->e->cfg.bugs & BUG_NO_SHA256) {
    console_log("sha256 check skipped");
    return 0;
  }
  char hex[65], err[512];
  if (digest_sha256_file(part, hex, err, sizeof err) != 0) {
    errmsg(msg, msglen, "sha256: %s", err);
    return -1;
  }
  if (strcasecmp(hex, r->req->sha256) != 0) {
    console_log("sha256 mismatch: got %s, expected %s", hex, r->req->sha256);
    errmsg(msg, msglen, "sha256 mismatch: got %.16s..., expected %.16s...", hex, r->req->sha256);
    return -1;
  }
  console_log("sha256 ok %s", hex);
  return 0;
}

/* A module other than the firmware: check the image as a burn would, then
 * install it into the module store. No slot switch, no reboot. */
/* The downloaded image can be burnt: a valid image, no fail-burn flag, the
 * version the update names. 0, or -1 with msg (prefixed with `what`). */
static int check_image(run *r, const char *part, const char *what, char *msg, size_t len) {
  char err[512];
  fwimage_info info;
  if (fwimage_check(part, &info, err, sizeof err) != 0) {
    errmsg(msg, len, "%simage rejected: %s", what, err);
    return -1;
  }
  if (info.flags & FWIMAGE_FAIL_BURN) {
    errmsg(msg, len, "%simage %s rejected at burn (flag fail-burn)", what, info.version);
    return -1;
  }
  if (strcmp(info.version, r->req->version) != 0) {
    errmsg(msg, len, "%simage holds version %s, the update names %s", what, info.version, r->req->version);
    return -1;
  }
  return 0;
}

static int install_module(run *r, const char *part) {
  engine *e = r->e;
  const engine_request *req = r->req;
  char msg[ENGINE_MSG_MAX], err[512], what[96];
  console_log("installing module %s version=%s", req->module, req->version);
  report(r, ENGINE_STEP_BURNING, 0, ENGINE_FAIL_NONE, "");
  snprintf(what, sizeof what, "module %s: ", req->module);
  if (check_image(r, part, what, msg, sizeof msg) != 0) return fail(r, ENGINE_FAIL_UPDATE, msg, 1);
  for (long left = e->cfg.burn_ms; left > 0; left -= 20) {
    if (poll_stop(r)) {
      console_log("upgrade stopped while installing module %s", req->module);
      return ENGINE_STOPPED;
    }
    fs_sleep_ms(left < 20 ? left : 20);
  }
  if (modstore_install(e->dir, req->module, req->version, part, err, sizeof err) != 0) {
    errmsg(msg, sizeof msg, "module %s: %s", req->module, err);
    return fail(r, ENGINE_FAIL_UPDATE, msg, 1);
  }
  if (breakpoint_clear(e->bp, err, sizeof err) != 0) console_log("breakpoint: %s", err);
  report(r, ENGINE_STEP_DONE, 0, ENGINE_FAIL_NONE, "");
  console_log("module %s upgraded to version=%s", req->module, req->version);
  return ENGINE_MODULE_DONE;
}

/* The download into the breakpoint's part file: 0, or the engine's result
 * (stopped, or the failure reported with its platform code). */
static int fetch(run *r, int resume) {
  engine *e = r->e;
  const engine_request *req = r->req;
  char msg[ENGINE_MSG_MAX];
  download_opts o = {
      .url = req->url,
      .part_path = breakpoint_part_path(e->bp),
      .size = req->size,
      .resume = resume,
      .stall_s = (e->cfg.bugs & BUG_NO_TIMEOUT) ? 0 : e->cfg.stall_s,
      .retries = e->cfg.retries > 0 ? e->cfg.retries : 1,
      .backoff_ms = 200,
      .ca_file = e->cfg.ca_file,
      .no_verify = (e->cfg.bugs & BUG_NO_CERT_VERIFY) != 0,
      .no_hostname = (e->cfg.bugs & BUG_NO_HOSTNAME_CHECK) != 0,
      .progress = on_progress,
      .ctx = r,
  };
  download_status st = req->blocks ? download_mqtt_run(&o, req->blocks, e->cfg.bugs, msg, sizeof msg)
                                    : download_run(&o, msg, sizeof msg);
  switch (st) {
  case DOWNLOAD_OK: return 0;
  case DOWNLOAD_STOPPED:
    console_log("upgrade stopped during download (breakpoint kept)");
    return ENGINE_STOPPED;
  case DOWNLOAD_STALLED:
  case DOWNLOAD_RETRIES: return fail(r, ENGINE_FAIL_DOWNLOAD, msg, 0);
  case DOWNLOAD_NOT_FOUND:
    return fail(r, (e->cfg.bugs & BUG_WRONG_404_CODE) ? ENGINE_FAIL_DOWNLOAD : ENGINE_FAIL_NOT_FOUND, msg, 0);
  case DOWNLOAD_FORBIDDEN:
    return fail(r, (e->cfg.bugs & BUG_WRONG_403_CODE) ? ENGINE_FAIL_NOT_FOUND : ENGINE_FAIL_FORBIDDEN, msg, 0);
  case DOWNLOAD_OVERSIZE: return fail(r, ENGINE_FAIL_DIGEST, msg, 1);
  case DOWNLOAD_IO: break;
  }
  return fail(r, ENGINE_FAIL_UPDATE, msg, 1);
}

/* Size, MD5 and SHA-256 of the downloaded part: 0, or the failure reported. */
static int verify(run *r, const char *part) {
  const engine_request *req = r->req;
  char msg[ENGINE_MSG_MAX], err[512];
  int64_t have = fs_size(part);
  if (have < 0 || (uint64_t)have != req->size) {
    errmsg(msg, sizeof msg, "size mismatch: have %lld bytes, expected %llu", (long long)have,
           (unsigned long long)req->size);
    return fail(r, ENGINE_FAIL_DIGEST, msg, 1);
  }
  if (!req->md5[0]) {
    console_log("no md5 to check");
  } else if (r->e->cfg.bugs & BUG_NO_MD5) {
    console_log("md5 check skipped");
  } else {
    char hex[33];
    if (digest_md5_file(part, hex, err, sizeof err) != 0) return fail(r, ENGINE_FAIL_UPDATE, err, 1);
    if (strcasecmp(hex, req->md5) != 0) {
      console_log("md5 mismatch: got %s, expected %s", hex, req->md5);
      errmsg(msg, sizeof msg, "md5 mismatch: got %s, expected %s", hex, req->md5);
      return fail(r, ENGINE_FAIL_DIGEST, msg, 1);
    }
    console_log("md5 ok %s", hex);
  }
  if (req->sha256[0] && verify_sha256(r, part, msg, sizeof msg) != 0) return fail(r, ENGINE_FAIL_DIGEST, msg, 1);
  return 0;
}

/* The firmware into the inactive slot, made pending: the engine's result. */
static int burn_firmware(run *r, const char *part) {
  engine *e = r->e;
  const engine_request *req = r->req;
  char msg[ENGINE_MSG_MAX], err[512];
  if (e->cfg.bugs & BUG_DONE_BEFORE_BURN) report(r, ENGINE_STEP_DONE, 0, ENGINE_FAIL_NONE, "");
  char slot = flash_inactive_slot(e->f);
  console_log("burning version=%s into slot %c", req->version, slot);
  report(r, ENGINE_STEP_BURNING, 0, ENGINE_FAIL_NONE, "");
  if (check_image(r, part, "", msg, sizeof msg) != 0) return fail(r, ENGINE_FAIL_UPDATE, msg, 1);
  char slot_path[4200];
  flash_slot_path(e->f, slot, slot_path, sizeof slot_path);
  int brc = burn(r, part, slot_path, err, sizeof err);
  if (brc > 0) {
    console_log("upgrade stopped during burn (slot %c left unused)", slot);
    return ENGINE_STOPPED;
  }
  if (brc < 0) return fail(r, ENGINE_FAIL_UPDATE, err, 1);
  if (flash_set_pending(e->f, slot, req->version, err, sizeof err) != 0) return fail(r, ENGINE_FAIL_UPDATE, err, 1);
  console_log("slot %c pending, boot attempts 0", slot);
  if (breakpoint_clear(e->bp, err, sizeof err) != 0) console_log("breakpoint: %s", err);
  if (!(e->cfg.bugs & BUG_DONE_BEFORE_BURN)) report(r, ENGINE_STEP_DONE, 0, ENGINE_FAIL_NONE, "");
  console_log("upgrade done version=%s", req->version);
  return ENGINE_REBOOT;
}

int engine_run(engine *e, const engine_request *req, const engine_hooks *h) {
  char ident[33];
  snprintf(ident, sizeof ident, "%.32s", req->md5[0] ? req->md5 : req->sha256);
  run r = {e, req, h, -1, 0, ident};
  char msg[ENGINE_MSG_MAX], err[512];
  console_log("upgrade start version=%s size=%llu md5=%s url=%s", req->version,
              (unsigned long long)req->size, req->md5, req->url);
  int resume = 1;
  if (prepare_breakpoint(&r, &resume, err, sizeof err) != 0) return fail(&r, ENGINE_FAIL_UPDATE, err, 0);
  const char *part = breakpoint_part_path(e->bp);
  report_percent(&r, req->size ? (int)(breakpoint_offset(e->bp) * 100 / req->size) : 0);
  int rc = fetch(&r, resume);
  if (rc) return rc;
  report_percent(&r, 100);
  if ((rc = verify(&r, part)) != 0) return rc;
  if (req->install) { /* quecthing SOTA: not for our slots, the request says where it goes */
    int reason = ENGINE_FAIL_UPDATE;
    int irc = req->install(req->install_ctx, part, req, h, &reason, msg, sizeof msg);
    if (irc > 0) return ENGINE_STOPPED;
    if (irc < 0) return fail(&r, (engine_fail)reason, msg, 1);
    if (breakpoint_clear(e->bp, err, sizeof err) != 0) console_log("breakpoint: %s", err);
    console_log("upgrade installed version=%s", req->version);
    return ENGINE_MODULE_DONE;
  }
  if (req->module[0] && strcmp(req->module, "default") != 0 && !(e->cfg.bugs & BUG_IGNORES_MODULE))
    return install_module(&r, part);
  return burn_firmware(&r, part);
}

void engine_free(engine *e) {
  if (!e) return;
  breakpoint_close(e->bp);
  free(e);
}
