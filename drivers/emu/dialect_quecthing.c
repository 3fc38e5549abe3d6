/* dialect_quecthing: see dialect_quecthing.h. The plan handshake (otaPlan ->
 * otaAction, userConfirm) is answered here; only fotaInfo/sotaInfo become an
 * engine_request. A SOTA request carries an install hook that sends the
 * verified image to the MCU over the UART (mcu_link.h) instead of burning. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "bugs.h"
#include "console.h"
#include "dialect_quecthing.h"
#include "digest.h"
#include "errmsg.h"
#include "fsutil.h"
#include "mcu_link.h"

#define ID_MAX 64
#define COMP_MAX 33

/* What a plan asks of the device (seed 000: minimum battery, minimum signal,
 * disk space; a differential package's source version). */
typedef struct needs {
  long battery, signal, disk;
  char source[FLASH_VERSION_MAX + 1]; /* "" for a full package */
} needs;

typedef struct plan {
  needs n;
  int active;   /* accepted, or waiting for the user */
  int accepted;
  char id[ID_MAX];
  char comp[COMP_MAX];
  int sota;     /* comp_type 1: the MCU */
  int burnt;    /* FOTA: the image is in the other slot, waiting for the reboot */
  char target[FLASH_VERSION_MAX + 1];
} plan;

struct dialect {
  mqtt_link *link;
  const otadev_config *o;
  unsigned bugs;
  char up[256], down[256], lab[256];
  long battery, signal, disk;
  char module_version[FLASH_VERSION_MAX + 1];
  mcu_link *mcu;
  char mcu_version[FLASH_VERSION_MAX + 1];
  int requested, record_checked, busy;
  plan p;
  uint32_t crc32; /* sotaInfo's */
  char record_path[4200];
};

static void client_id(const dialect_config *cfg, char *buf, size_t len) {
  snprintf(buf, len, "qth.%s.%s", cfg->product, cfg->device);
}

static void publish(dialect *d, cJSON *root) { mqtt_link_publish_json(d->link, d->up, root, 1); }

static cJSON *event(const char *name) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "event", name);
  return root;
}

static cJSON *plan_event(dialect *d, const char *name) {
  cJSON *root = event(name);
  cJSON_AddStringToObject(root, "plan_id", d->p.id);
  cJSON_AddStringToObject(root, "comp_no", d->p.comp);
  return root;
}

static void step(dialect *d, const char *name, int percent) {
  cJSON *root = plan_event(d, "otaStep");
  cJSON_AddStringToObject(root, "step", name);
  if (percent >= 0) cJSON_AddNumberToObject(root, "percent", percent);
  publish(d, root);
}

static void result(dialect *d, int sota, const char *comp, int code, const char *version,
                   const char *msg) {
  cJSON *root = event(sota ? "sotaResult" : "fotaResult");
  cJSON_AddStringToObject(root, "plan_id", d->p.id);
  cJSON_AddStringToObject(root, "comp_no", comp);
  cJSON_AddNumberToObject(root, "result", code);
  cJSON_AddStringToObject(root, "version", version);
  cJSON_AddStringToObject(root, "msg", msg ? msg : "");
  publish(d, root);
}

static void set_mcu_ver(dialect *d) {
  if (!d->mcu) return;
  cJSON *root = event("setMcuVer");
  cJSON_AddStringToObject(root, "comp_no", d->o->mcu);
  cJSON_AddStringToObject(root, "version", d->mcu_version);
  publish(d, root);
}

/* ---- the record of an accepted plan (survives reboots and power cuts) ---- */

static void record_write(dialect *d) {
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "plan_id", d->p.id);
  cJSON_AddStringToObject(r, "comp_no", d->p.comp);
  cJSON_AddBoolToObject(r, "sota", d->p.sota);
  cJSON_AddBoolToObject(r, "burnt", d->p.burnt);
  cJSON_AddStringToObject(r, "target", d->p.target);
  char *text = cJSON_PrintUnformatted(r);
  cJSON_Delete(r);
  char err[256];
  if (text && fs_write_atomic(d->record_path, text, strlen(text), NULL, NULL, err, sizeof err) != 0)
    console_log("quecthing: %s", err);
  free(text);
}

static void record_clear(dialect *d) { unlink(d->record_path); }

/* After a boot: the plan accepted before it ends here. Success is the target
 * version running (seed 000: the result is reported on connecting again). */
static void record_check(dialect *d) {
  size_t len = 0;
  int missing = 0;
  char err[256];
  char *text = fs_read_all(d->record_path, 4096, &len, &missing, err, sizeof err);
  if (!text) return;
  cJSON *r = cJSON_Parse(text);
  free(text);
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "plan_id");
  const cJSON *comp = cJSON_GetObjectItemCaseSensitive(r, "comp_no");
  const cJSON *tgt = cJSON_GetObjectItemCaseSensitive(r, "target");
  int sota = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "sota"));
  int burnt = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "burnt"));
  if (cJSON_IsString(id) && cJSON_IsString(comp) && cJSON_IsString(tgt)) {
    snprintf(d->p.id, sizeof d->p.id, "%s", id->valuestring);
    snprintf(d->p.comp, sizeof d->p.comp, "%s", comp->valuestring);
    const char *running = sota ? d->mcu_version : d->module_version;
    if (strcmp(running, tgt->valuestring) == 0) {
      if (!(d->bugs & BUG_NO_FOTA_RESULT) || sota) {
        step(d, "done", -1);
        result(d, sota, d->p.comp, 0, running, "");
      } else {
        console_log("fotaResult not sent");
      }
    } else {
      char msg[160];
      if (burnt) /* burnt, and the old version runs: the bootloader rolled back */
        snprintf(msg, sizeof msg, "image %s did not boot, rolled back to %s", tgt->valuestring, running);
      else
        snprintf(msg, sizeof msg, "the upgrade was interrupted: running %s, expected %s", running,
                 tgt->valuestring);
      result(d, sota, d->p.comp, -5, running, msg);
    }
  }
  cJSON_Delete(r);
  record_clear(d);
  memset(&d->p, 0, sizeof d->p);
}

/* ---- life ------------------------------------------------------------------ */

static dialect *create(const dialect_config *cfg, mqtt_link *link, char *err, size_t errlen) {
  if (!cfg->opts) {
    errmsg(err, errlen, "quecthing: no command line");
    return NULL;
  }
  dialect *d = calloc(1, sizeof *d);
  if (!d) {
    errmsg(err, errlen, "quecthing: out of memory");
    return NULL;
  }
  d->link = link;
  d->o = cfg->opts;
  d->bugs = cfg->opts->bugs;
  d->battery = d->o->battery;
  d->signal = d->o->signal;
  d->disk = d->o->disk;
  int a = snprintf(d->up, sizeof d->up, "qth/%s/%s/up", cfg->product, cfg->device);
  int b = snprintf(d->down, sizeof d->down, "qth/%s/%s/down", cfg->product, cfg->device);
  int c = snprintf(d->lab, sizeof d->lab, "qth/%s/%s/lab", cfg->product, cfg->device);
  if (a < 0 || b < 0 || c < 0 || (size_t)c >= sizeof d->lab ||
      fs_join(d->record_path, sizeof d->record_path, d->o->state, "quecthing_plan.json") != 0) {
    errmsg(err, errlen, "quecthing: product, device or state path too long");
    free(d);
    return NULL;
  }
  if (d->o->mcu) {
    char mcu_dir[4200];
    if (!d->o->mcu_tty || !d->o->mcu_peer_tty) {
      errmsg(err, errlen, "quecthing: --mcu needs --mcu-tty and --mcu-peer-tty");
      free(d);
      return NULL;
    }
    if (fs_join(mcu_dir, sizeof mcu_dir, d->o->state, "mcu") != 0) {
      errmsg(err, errlen, "quecthing: state path too long");
      free(d);
      return NULL;
    }
    mcu_link_opts mo = {d->o->mcu_tty, d->o->mcu_peer_tty, d->o->mcu_exec, mcu_dir,
                        d->o->mcu_version, (d->bugs & BUG_NO_MCU_CRC) != 0};
    d->mcu = mcu_link_open(&mo, err, errlen);
    if (!d->mcu) {
      free(d);
      return NULL;
    }
    char why[256];
    /* 25 tries of 400 ms: an MCU process that starts slowly (a loaded machine) still answers */
    if (mcu_link_version(d->mcu, d->mcu_version, sizeof d->mcu_version, 25, why, sizeof why) != 0) {
      console_log("%s", why);
      snprintf(d->mcu_version, sizeof d->mcu_version, "unknown");
    } else {
      console_log("mcu %s runs version %s", d->o->mcu, d->mcu_version);
    }
  }
  return d;
}

static void on_connect(dialect *d) {
  mqtt_link_subscribe(d->link, d->down, 1);
  mqtt_link_subscribe(d->link, d->lab, 1);
}

static void report_version(dialect *d, const char *version) {
  snprintf(d->module_version, sizeof d->module_version, "%s", version);
  cJSON *root = event("version");
  cJSON_AddStringToObject(root, "comp_no", "module");
  cJSON_AddStringToObject(root, "version", version);
  publish(d, root);
  set_mcu_ver(d);
  if (!d->record_checked) {
    d->record_checked = 1;
    record_check(d);
  }
  /* vendor (QuecOpen API): the SDK asks for plans by itself when it comes online */
  if (!d->requested) {
    d->requested = 1;
    publish(d, event("otaRequest"));
  }
}

int quecthing_result_code(engine_fail reason, const char *msg) {
  switch (reason) {
  case ENGINE_FAIL_NONE: return 0;
  case ENGINE_FAIL_DOWNLOAD: return -1;
  case ENGINE_FAIL_NOT_FOUND: return -2;
  case ENGINE_FAIL_FORBIDDEN: return -3;
  case ENGINE_FAIL_DIGEST:
    if (msg && strncmp(msg, "sha256", 6) == 0) return -7;
    if (msg && strncmp(msg, "crc32", 5) == 0) return -6;
    return -4;
  case ENGINE_FAIL_UPDATE:
    if (msg && strncmp(msg, "mcu", 3) == 0) return -8;
    return -5;
  }
  return -5;
}

static void report_progress(dialect *d, const engine_report *r) {
  switch (r->step) {
  case ENGINE_STEP_DOWNLOADING: step(d, "downloading", r->percent); break;
  case ENGINE_STEP_BURNING: step(d, "updating", -1); break;
  case ENGINE_STEP_DONE: /* the result follows the reboot; the record says how far it got */
    if (d->p.active) {
      d->p.burnt = 1;
      record_write(d);
    }
    break;
  case ENGINE_STEP_FAIL: {
    if (!d->p.active) {
      /* a failure found at boot (a rollback): the plan's record, if any, was
       * reported by record_check already; without a plan there is nobody to tell */
      console_log("failure without a plan in hand, not reported: %s", r->msg);
      break;
    }
    int sota = d->p.sota;
    result(d, sota, d->p.comp, quecthing_result_code(r->reason, r->msg),
           sota ? d->mcu_version : d->module_version, r->msg);
    record_clear(d);
    memset(&d->p, 0, sizeof d->p);
    d->busy = 0;
    break;
  }
  }
}

/* ---- the plan handshake ------------------------------------------------------ */

static int str_ok(const cJSON *j, size_t max) {
  return cJSON_IsString(j) && *j->valuestring && strlen(j->valuestring) <= max &&
         dialect_printable(j->valuestring);
}

static void action(dialect *d, int accept, const char *reason) {
  cJSON *root = plan_event(d, "otaAction");
  cJSON_AddNumberToObject(root, "action", accept);
  if (reason) cJSON_AddStringToObject(root, "reason", reason);
  publish(d, root);
  console_log("otaAction(%d) plan=%s comp=%s%s%s", accept, d->p.id, d->p.comp, reason ? ": " : "",
              reason ? reason : "");
  if (accept) {
    d->p.accepted = 1;
    record_write(d);
    step(d, "received", -1);
  } else {
    memset(&d->p, 0, sizeof d->p);
  }
}

/* Decides on the plan in d->p with its needs: accept (1) or refuse (0, why). */
static int can_satisfy(dialect *d, const needs *n, char *why, size_t len) {
  const char *running = d->p.sota ? d->mcu_version : d->module_version;
  if (n->source[0] && strcmp(n->source, running) != 0) {
    if (d->bugs & BUG_IGNORES_SOURCE_VERSION) {
      console_log("differential package for %s accepted on %s (source version not checked)", n->source, running);
    } else {
      snprintf(why, len, "differential package for %s, this component runs %s", n->source, running);
      return 0;
    }
  }
  if (d->battery < n->battery) {
    if (d->bugs & BUG_ACCEPTS_LOW_BATTERY) {
      console_log("battery %ld%% below the plan's minimum %ld%% (not checked)", d->battery, n->battery);
    } else {
      snprintf(why, len, "battery %ld%% is below the plan's minimum %ld%%", d->battery, n->battery);
      return 0;
    }
  }
  if (d->signal < n->signal) {
    snprintf(why, len, "signal %ld dBm is below the plan's minimum %ld dBm", d->signal, n->signal);
    return 0;
  }
  if (d->disk < n->disk) {
    snprintf(why, len, "%ld bytes free, the plan needs %ld", d->disk, n->disk);
    return 0;
  }
  return 1;
}

static dialect_msg on_plan(dialect *d, const cJSON *root, char *why, size_t whylen) {
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "plan_id");
  const cJSON *comp = cJSON_GetObjectItemCaseSensitive(root, "comp_no");
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "comp_type");
  const cJSON *pkg = cJSON_GetObjectItemCaseSensitive(root, "package");
  const cJSON *src = cJSON_GetObjectItemCaseSensitive(root, "source_version");
  const cJSON *tgt = cJSON_GetObjectItemCaseSensitive(root, "target_version");
  const cJSON *bat = cJSON_GetObjectItemCaseSensitive(root, "min_battery");
  const cJSON *sig = cJSON_GetObjectItemCaseSensitive(root, "min_signal");
  const cJSON *disk = cJSON_GetObjectItemCaseSensitive(root, "disk_space");
  const cJSON *mode = cJSON_GetObjectItemCaseSensitive(root, "mode");
  int diff = cJSON_IsString(pkg) && strcmp(pkg->valuestring, "diff") == 0;
  if (!str_ok(id, ID_MAX - 1)) errmsg(why, whylen, "otaPlan: \"plan_id\" is missing or not a short string");
  else if (!str_ok(comp, COMP_MAX - 1)) errmsg(why, whylen, "otaPlan: \"comp_no\" is missing or not a short string");
  else if (!dialect_json_int(type, 0, 1)) errmsg(why, whylen, "otaPlan: \"comp_type\" must be 0 (module) or 1 (MCU)");
  else if (!cJSON_IsString(pkg) || (!diff && strcmp(pkg->valuestring, "full") != 0))
    errmsg(why, whylen, "otaPlan: \"package\" must be \"full\" or \"diff\"");
  else if (diff && !str_ok(src, FLASH_VERSION_MAX))
    errmsg(why, whylen, "otaPlan: a \"diff\" package needs \"source_version\"");
  else if (!str_ok(tgt, FLASH_VERSION_MAX)) errmsg(why, whylen, "otaPlan: \"target_version\" is missing or invalid");
  else if (!dialect_json_int(bat, 0, 100)) errmsg(why, whylen, "otaPlan: \"min_battery\" must be 0..100");
  else if (!dialect_json_int(sig, -200, 0)) errmsg(why, whylen, "otaPlan: \"min_signal\" must be -200..0 (dBm)");
  else if (!dialect_json_int(disk, 0, 1e12)) errmsg(why, whylen, "otaPlan: \"disk_space\" must be a byte count");
  else if (!cJSON_IsString(mode) || (strcmp(mode->valuestring, "silent") != 0 && strcmp(mode->valuestring, "confirm") != 0))
    errmsg(why, whylen, "otaPlan: \"mode\" must be \"silent\" or \"confirm\"");
  else {
    if (d->busy) {
      errmsg(why, whylen, "otaPlan %s: an upgrade is in progress", id->valuestring);
      return DIALECT_MSG_IGNORED;
    }
    memset(&d->p, 0, sizeof d->p);
    d->p.active = 1;
    d->p.sota = type->valueint == 1;
    snprintf(d->p.id, sizeof d->p.id, "%s", id->valuestring);
    snprintf(d->p.comp, sizeof d->p.comp, "%s", comp->valuestring);
    snprintf(d->p.target, sizeof d->p.target, "%s", tgt->valuestring);
    needs n = {(long)bat->valuedouble, (long)sig->valuedouble, (long)disk->valuedouble, ""};
    if (diff) snprintf(n.source, sizeof n.source, "%s", src->valuestring);
    d->p.n = n;
    char reason[200];
    errmsg(why, whylen, "otaPlan %s handled", d->p.id);
    if (d->p.sota && (!d->mcu || strcmp(d->p.comp, d->o->mcu) != 0)) {
      snprintf(reason, sizeof reason, "no MCU component %s on this device", d->p.comp);
      action(d, 0, reason);
    } else if (strcmp(mode->valuestring, "confirm") == 0 && !(d->bugs & BUG_IGNORES_CONFIRM)) {
      console_log("otaPlan %s waits for the user's confirmation", d->p.id);
    } else if (!can_satisfy(d, &n, reason, sizeof reason)) {
      action(d, 0, reason);
    } else {
      action(d, 1, NULL);
    }
    return DIALECT_MSG_IGNORED;
  }
  return DIALECT_MSG_MALFORMED;
}

static dialect_msg on_confirm(dialect *d, const cJSON *root, char *why, size_t whylen) {
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "plan_id");
  const cJSON *ok = cJSON_GetObjectItemCaseSensitive(root, "confirm");
  if (!str_ok(id, ID_MAX - 1) || !dialect_json_int(ok, 0, 1)) {
    errmsg(why, whylen, "userConfirm: needs \"plan_id\" and \"confirm\" 0 or 1");
    return DIALECT_MSG_MALFORMED;
  }
  if (!d->p.active || d->p.accepted || strcmp(d->p.id, id->valuestring) != 0) {
    errmsg(why, whylen, "userConfirm for plan %s, which does not wait for one", id->valuestring);
    return DIALECT_MSG_IGNORED;
  }
  errmsg(why, whylen, "userConfirm %s handled", d->p.id);
  char reason[200];
  if (ok->valueint == 0)
    action(d, 0, "the user declined");
  else if (!can_satisfy(d, &d->p.n, reason, sizeof reason))
    action(d, 0, reason);
  else
    action(d, 1, NULL);
  return DIALECT_MSG_IGNORED;
}

/* ---- SOTA: the image goes to the MCU ----------------------------------------- */

typedef struct xfer {
  dialect *d;
  const engine_hooks *h;
  int last;
} xfer;

static int xfer_progress(void *ctx, uint32_t sent, uint32_t size) {
  xfer *x = ctx;
  int pct = size ? (int)((uint64_t)sent * 100 / size) / 25 * 25 : 0;
  if (pct > x->last) {
    x->last = pct;
    step(x->d, "transferring", pct);
  }
  return x->h->poll ? x->h->poll(x->h->ctx) : 0;
}

static int install_mcu(void *ctx, const char *path, const engine_request *req, const engine_hooks *h,
                       int *reason, char *msg, size_t msglen) {
  dialect *d = ctx;
  if (d->bugs & BUG_NO_CRC32) {
    console_log("crc32 check skipped");
  } else {
    FILE *f = fopen(path, "rb");
    uLong c = crc32(0L, Z_NULL, 0);
    unsigned char buf[8192];
    size_t k;
    while (f && (k = fread(buf, 1, sizeof buf, f)) > 0) c = crc32(c, buf, (uInt)k);
    if (f) fclose(f);
    if (!f || (uint32_t)c != d->crc32) {
      *reason = ENGINE_FAIL_DIGEST;
      errmsg(msg, msglen, "crc32 mismatch: got %08lx, expected %08x", (unsigned long)c, d->crc32);
      return -1;
    }
    console_log("crc32 ok %08x", d->crc32);
  }
  xfer x = {d, h, -1};
  int resent = 0;
  char err[256];
  console_log("transferring version=%s to the MCU", req->version);
  int rc = mcu_link_transfer(d->mcu, path, req->version, d->crc32, (d->bugs & BUG_NO_SOTA_RETRY) ? 1 : 8,
                             xfer_progress, &x, &resent, err, sizeof err);
  if (rc > 0) return 1;
  if (rc < 0) {
    *reason = ENGINE_FAIL_UPDATE;
    errmsg(msg, msglen, "%s", err);
    return -1;
  }
  console_log("transfer done (%d frames sent again)", resent);
  if (mcu_link_version(d->mcu, d->mcu_version, sizeof d->mcu_version, 10, err, sizeof err) != 0 ||
      strcmp(d->mcu_version, req->version) != 0) {
    *reason = ENGINE_FAIL_UPDATE;
    errmsg(msg, msglen, "mcu runs %s after the transfer, expected %s", d->mcu_version, req->version);
    return -1;
  }
  set_mcu_ver(d); /* seed 002: setMcuVer once the MCU runs the new version */
  step(d, "done", -1);
  result(d, 1, d->p.comp, 0, d->mcu_version, "");
  record_clear(d);
  memset(&d->p, 0, sizeof d->p);
  d->busy = 0;
  return 0;
}

static dialect_msg on_info(dialect *d, const cJSON *root, int sota, engine_request *req, char *why,
                           size_t whylen) {
  const char *ev = sota ? "sotaInfo" : "fotaInfo";
  const cJSON *comp = cJSON_GetObjectItemCaseSensitive(root, "comp_no");
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
  const cJSON *url = cJSON_GetObjectItemCaseSensitive(root, "url");
  const cJSON *md5 = cJSON_GetObjectItemCaseSensitive(root, "md5");
  const cJSON *crc = cJSON_GetObjectItemCaseSensitive(root, "crc32");
  const cJSON *sha = cJSON_GetObjectItemCaseSensitive(root, "sha256");
  const cJSON *size = cJSON_GetObjectItemCaseSensitive(root, "size");
  memset(req, 0, sizeof *req);
  if (!str_ok(comp, COMP_MAX - 1)) errmsg(why, whylen, "%s: \"comp_no\" is missing", ev);
  else if (!str_ok(ver, FLASH_VERSION_MAX)) errmsg(why, whylen, "%s: \"version\" is missing or invalid", ev);
  else if (!str_ok(url, ENGINE_URL_MAX - 1) || !dialect_http_url(url->valuestring))
    errmsg(why, whylen, "%s: \"url\" is missing or not an http(s) URL", ev);
  else if (!cJSON_IsString(md5) || !digest_is_hex(md5->valuestring, 32)) errmsg(why, whylen, "%s: \"md5\" is not 32 hex digits", ev);
  else if (!dialect_json_int(size, 1, 4294967295.0)) errmsg(why, whylen, "%s: \"size\" is not a positive integer", ev);
  else if (sota && !dialect_json_int(crc, 0, 4294967295.0)) errmsg(why, whylen, "sotaInfo: \"crc32\" is not an unsigned 32-bit number");
  else if ((sota || sha) && (!cJSON_IsString(sha) || !digest_is_hex(sha->valuestring, 64)))
    errmsg(why, whylen, "%s: \"sha256\" is not 64 hex digits", ev);
  else {
    if (!d->p.accepted || strcmp(d->p.comp, comp->valuestring) != 0 || d->p.sota != sota ||
        strcmp(d->p.target, ver->valuestring) != 0) {
      errmsg(why, whylen, "%s for %s %s, but no such plan was accepted", ev, comp->valuestring, ver->valuestring);
      return DIALECT_MSG_IGNORED;
    }
    if (d->busy) {
      errmsg(why, whylen, "%s: an upgrade is in progress", ev);
      return DIALECT_MSG_IGNORED;
    }
    snprintf(req->version, sizeof req->version, "%s", ver->valuestring);
    snprintf(req->url, sizeof req->url, "%s", url->valuestring);
    req->size = (uint64_t)size->valuedouble;
    snprintf(req->md5, sizeof req->md5, "%s", md5->valuestring);
    digest_hex_lower(req->md5);
    if (cJSON_IsString(sha)) snprintf(req->sha256, sizeof req->sha256, "%s", sha->valuestring);
    if (sota) {
      d->crc32 = (uint32_t)crc->valuedouble;
      req->install = install_mcu;
      req->install_ctx = d;
    }
    step(d, "downloading", 0);
    d->busy = 1;
    return DIALECT_MSG_UPDATE;
  }
  return DIALECT_MSG_MALFORMED;
}

static dialect_msg on_lab(dialect *d, const char *payload, size_t len, char *why, size_t whylen) {
  cJSON *root = cJSON_ParseWithLength(payload, len);
  const char *keys[] = {"battery", "signal", "disk"};
  long *vals[] = {&d->battery, &d->signal, &d->disk};
  double lo[] = {0, -200, 0}, hi[] = {100, 0, 1e12};
  dialect_msg rc = DIALECT_MSG_IGNORED;
  if (!cJSON_IsObject(root)) {
    errmsg(why, whylen, "lab: not a JSON object");
    rc = DIALECT_MSG_MALFORMED;
  }
  for (int i = 0; i < 3 && rc == DIALECT_MSG_IGNORED; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, keys[i]);
    if (!v) continue;
    if (!dialect_json_int(v, lo[i], hi[i])) {
      errmsg(why, whylen, "lab: \"%s\" out of range", keys[i]);
      rc = DIALECT_MSG_MALFORMED;
    } else {
      *vals[i] = (long)v->valuedouble;
    }
  }
  cJSON_Delete(root);
  if (rc == DIALECT_MSG_IGNORED) {
    errmsg(why, whylen, "lab environment now battery=%ld%% signal=%ld dBm disk=%ld bytes", d->battery,
           d->signal, d->disk);
  }
  return rc;
}

static dialect_msg on_message(dialect *d, const char *topic, const char *payload, size_t len,
                              int too_large, engine_request *req, char *why, size_t whylen) {
  int lab = strcmp(topic, d->lab) == 0;
  if (!lab && strcmp(topic, d->down) != 0) {
    errmsg(why, whylen, "message on unexpected topic %s", topic);
    return DIALECT_MSG_IGNORED;
  }
  if (too_large || !payload || len > QTH_MAX_PAYLOAD) {
    errmsg(why, whylen, "payload of %zu bytes is larger than %u", len, QTH_MAX_PAYLOAD);
    return DIALECT_MSG_MALFORMED;
  }
  if (lab) return on_lab(d, payload, len, why, whylen);
  cJSON *root = dialect_parse_object(payload, len, QTH_MAX_PAYLOAD, why, whylen);
  if (!root) return DIALECT_MSG_MALFORMED;
  const cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "event");
  dialect_msg rc = DIALECT_MSG_MALFORMED;
  if (!cJSON_IsString(ev))
    errmsg(why, whylen, "\"event\" is missing or not a string");
  else if (strcmp(ev->valuestring, "otaPlan") == 0)
    rc = on_plan(d, root, why, whylen);
  else if (strcmp(ev->valuestring, "userConfirm") == 0)
    rc = on_confirm(d, root, why, whylen);
  else if (strcmp(ev->valuestring, "fotaInfo") == 0)
    rc = on_info(d, root, 0, req, why, whylen);
  else if (strcmp(ev->valuestring, "sotaInfo") == 0)
    rc = on_info(d, root, 1, req, why, whylen);
  else
    errmsg(why, whylen, "unknown event \"%.40s\"", ev->valuestring);
  cJSON_Delete(root);
  return rc;
}

static void destroy(dialect *d) {
  if (!d) return;
  mcu_link_close(d->mcu);
  free(d);
}

const dialect_ops dialect_quecthing_ops = {
    .name = "quecthing",
    .client_id = client_id,
    .create = create,
    .on_connect = on_connect,
    .report_version = report_version,
    .report_progress = report_progress,
    .on_message = on_message,
    .destroy = destroy,
};
