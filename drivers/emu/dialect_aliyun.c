#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bugs.h"
#include "console.h"
#include "dialect_aliyun.h"
#include "digest.h"
#include "download_mqtt.h"
#include "errmsg.h"
#include "fsutil.h"
#include "modstore.h"

#define BLOCK_MAX 131072u
/* requests per block before -2; more than the Link SDK's 4, so that a
 * loaded test machine does not fail a correct device */
#define BLOCK_RETRIES 10

struct dialect {
  mqtt_link *link;
  aliyun_flavour flavour;
  const char *name; /* "aliyun" or "haas", for console lines */
  char state[4096];
  unsigned bugs;
  long interval_ms;
  unsigned long next_id;
  char t_inform[256], t_upgrade[256], t_progress[256], t_get[256], t_get_reply[256], t_dl[256],
      t_dl_reply[256];
  int ask_firmware;  /* firmware/get is due with the next version report (after a connect) */
  int updates_seen;  /* an upgrade was taken in this session: a failure before it is the last boot's */
  double last_progress; /* monotonic seconds of the last progress report, 0 = none */
  /* the MQTT block download: one request in flight */
  blocksrc src;
  int want_active;
  uint64_t want_off;
  uint32_t want_size;
  char want_token[17];
  unsigned char *got; /* the reply's block, BLOCK_MAX bytes */
  size_t got_len;
  int got_state;      /* 0 none, 1 block, -1 refused, -2 broken */
  char got_why[200];
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void client_id(const dialect_config *cfg, char *buf, size_t len) {
  snprintf(buf, len, "%s.%s", cfg->product, cfg->device);
}

/* ---- publishing ---------------------------------------------------------- */

static void add_id(dialect *d, cJSON *root) {
  char id[24];
  snprintf(id, sizeof id, "%lu", ++d->next_id);
  cJSON_AddStringToObject(root, "id", id);
}

/* ---- the block source ---------------------------------------------------- */

/* req->url of an MQTT download: "mqtt-stream:STREAMID/FILEID". */
static int parse_stream(const char *url, long long *stream, long long *file) {
  const char *p = strncmp(url, "mqtt-stream:", 12) == 0 ? url + 12 : NULL;
  if (!p) return -1;
  char *end = NULL;
  *stream = strtoll(p, &end, 10);
  if (end == p || *end != '/') return -1;
  p = end + 1;
  *file = strtoll(p, &end, 10);
  return end == p || *end ? -1 : 0;
}

static int block_request(void *ctx, const char *stream, uint64_t offset, uint32_t size) {
  dialect *d = ctx;
  long long sid = 0, fid = 0;
  if (parse_stream(stream, &sid, &fid) != 0) {
    console_log("%s: '%s' names no MQTT stream", d->name, stream);
    return -1;
  }
  d->want_active = 1;
  d->want_off = offset;
  d->want_size = size;
  /* a token per file lets the device tell replies of two downloads apart */
  snprintf(d->want_token, sizeof d->want_token, "s%lldf%lld", sid % 1000000000LL, fid % 1000LL);
  d->got_state = 0;
  cJSON *root = cJSON_CreateObject();
  add_id(d, root);
  cJSON_AddStringToObject(root, "version", "1.0");
  cJSON *params = cJSON_AddObjectToObject(root, "params");
  cJSON_AddStringToObject(params, "fileToken", d->want_token);
  cJSON *info = cJSON_AddObjectToObject(params, "fileInfo");
  cJSON_AddNumberToObject(info, "streamId", (double)sid);
  cJSON_AddNumberToObject(info, "fileId", (double)fid);
  cJSON *blk = cJSON_AddObjectToObject(params, "fileBlock");
  cJSON_AddNumberToObject(blk, "size", size);
  cJSON_AddNumberToObject(blk, "offset", (double)offset);
  mqtt_link_publish_json(d->link, d->t_dl, root, 1);
  return 0;
}

static int block_take(void *ctx, const unsigned char **data, size_t *len, char *why, size_t whylen) {
  dialect *d = ctx;
  int st = d->got_state;
  d->got_state = 0;
  if (st == 1) {
    *data = d->got;
    *len = d->got_len;
  } else if (st < 0) {
    errmsg(why, whylen, "%s", d->got_why);
  }
  return st;
}

int aliyun_parse_block(const unsigned char *p, size_t len, int check_crc, uint64_t *offset,
                       uint32_t *size, char token[17], const unsigned char **block, char *why,
                       size_t whylen) {
  if (len < 4) {
    errmsg(why, whylen, "%zu bytes are shorter than the framing", len);
    return -1;
  }
  size_t hlen = (size_t)p[0] << 8 | p[1];
  if (2 + hlen > len) {
    errmsg(why, whylen, "header length %zu runs past the %zu bytes received", hlen, len);
    return -1;
  }
  cJSON *h = cJSON_ParseWithLength((const char *)p + 2, hlen);
  int rc = -1;
  const cJSON *code = cJSON_GetObjectItemCaseSensitive(h, "code");
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(h, "data");
  const cJSON *bs = cJSON_GetObjectItemCaseSensitive(data, "bSize");
  const cJSON *bo = cJSON_GetObjectItemCaseSensitive(data, "bOffset");
  const cJSON *tok = cJSON_GetObjectItemCaseSensitive(data, "fileToken");
  double c = cJSON_IsNumber(code) ? code->valuedouble : cJSON_IsString(code) ? atof(code->valuestring) : -1;
  if (!cJSON_IsObject(h)) {
    errmsg(why, whylen, "the header is not a JSON object");
  } else if (c != 200) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(h, "msg");
    errmsg(why, whylen, "code %g: %.100s", c, cJSON_IsString(m) ? m->valuestring : "no msg");
    rc = 1;
  } else if (!dialect_json_int(bs, 1, BLOCK_MAX) || !dialect_json_int(bo, 0, ALIYUN_MAX_FILE)) {
    errmsg(why, whylen, "data.bSize or data.bOffset missing or out of range");
  } else if (len != 2 + hlen + (size_t)bs->valuedouble + 2) {
    errmsg(why, whylen, "%zu bytes, the header announces %zu", len, 2 + hlen + (size_t)bs->valuedouble + 2);
  } else {
    *size = (uint32_t)bs->valuedouble;
    *offset = (uint64_t)bo->valuedouble;
    *block = p + 2 + hlen;
    snprintf(token, 17, "%s", cJSON_IsString(tok) ? tok->valuestring : "");
    uint16_t want = (uint16_t)(p[len - 2] | p[len - 1] << 8);
    uint16_t have = download_crc16(*block, *size);
    if (check_crc && want != have) {
      errmsg(why, whylen, "offset=%" PRIu64 ": crc16 %04x, computed %04x", *offset, want, have);
    } else {
      rc = 0;
    }
  }
  cJSON_Delete(h);
  return rc;
}

/* A download_reply: hands the block to the download if it is the one in flight. */
static void on_block_reply(dialect *d, const char *payload, size_t len, int too_large, char *why,
                           size_t whylen) {
  uint64_t off = 0;
  uint32_t size = 0;
  char token[17] = "", reason[200];
  const unsigned char *block = NULL;
  if (too_large || !payload) {
    errmsg(why, whylen, "download_reply of %zu bytes is too large", len);
    return;
  }
  int rc = aliyun_parse_block((const unsigned char *)payload, len, !(d->bugs & BUG_NO_BLOCK_CRC), &off,
                              &size, token, &block, reason, sizeof reason);
  if (!d->want_active) {
    errmsg(why, whylen, "download_reply while no block is asked for (%s)", rc == 0 ? "a block" : reason);
    return;
  }
  if (rc != 0) {
    d->got_state = rc > 0 ? -1 : -2;
    snprintf(d->got_why, sizeof d->got_why, "%s", reason);
    errmsg(why, whylen, "download_reply %s: %s", rc > 0 ? "refused" : "broken", reason);
    return;
  }
  if (off != d->want_off || size != d->want_size || (token[0] && strcmp(token, d->want_token) != 0)) {
    errmsg(why, whylen, "download_reply offset=%" PRIu64 " size=%u token=%s is not the block in flight "
           "(offset=%" PRIu64 " size=%u token=%s)", off, size, token, d->want_off, d->want_size, d->want_token);
    return;
  }
  memcpy(d->got, block, size);
  d->got_len = size;
  d->got_state = 1;
  errmsg(why, whylen, "download_reply offset=%" PRIu64 " size=%u handed to the block download", off, size);
}

/* ---- life ---------------------------------------------------------------- */

static int topic(char *buf, size_t len, const char *fmt, const char *pk, const char *dn) {
  int n = snprintf(buf, len, fmt, pk, dn);
  return n < 0 || (size_t)n >= len ? -1 : 0;
}

static void destroy(dialect *d) {
  if (!d) return;
  free(d->got);
  free(d);
}

static dialect *create_flavour(const dialect_config *cfg, mqtt_link *link, aliyun_flavour flavour,
                               char *err, size_t errlen) {
  const char *name = flavour == ALIYUN_HAAS ? "haas" : "aliyun";
  dialect *d = calloc(1, sizeof *d);
  if (d) d->got = malloc(BLOCK_MAX);
  if (!d || !d->got) {
    if (d) free(d);
    errmsg(err, errlen, "%s: out of memory", name);
    return NULL;
  }
  d->link = link;
  d->flavour = flavour;
  d->name = name;
  d->interval_ms = 3000;
  const otadev_config *o = cfg->opts;
  if (o) {
    d->bugs = o->bugs;
    d->interval_ms = o->progress_interval_ms;
    snprintf(d->state, sizeof d->state, "%s", o->state);
    if (modstore_init(o->state, o->modules, o->nmodules, err, errlen) != 0) {
      destroy(d);
      return NULL;
    }
  }
  d->src.ctx = d;
  d->src.request = block_request;
  d->src.take = block_take;
  d->src.block_size = o ? (uint32_t)o->block_size : 4096;
  d->src.timeout_ms = o ? o->block_timeout_ms : 1000;
  d->src.retries = BLOCK_RETRIES;
  const char *pk = cfg->product, *dn = cfg->device;
  if (topic(d->t_inform, sizeof d->t_inform, "/ota/device/inform/%s/%s", pk, dn) ||
      topic(d->t_upgrade, sizeof d->t_upgrade, "/ota/device/upgrade/%s/%s", pk, dn) ||
      topic(d->t_progress, sizeof d->t_progress, "/ota/device/progress/%s/%s", pk, dn) ||
      topic(d->t_get, sizeof d->t_get, "/sys/%s/%s/thing/ota/firmware/get", pk, dn) ||
      topic(d->t_get_reply, sizeof d->t_get_reply, "/sys/%s/%s/thing/ota/firmware/get_reply", pk, dn) ||
      topic(d->t_dl, sizeof d->t_dl, "/sys/%s/%s/thing/file/download", pk, dn) ||
      topic(d->t_dl_reply, sizeof d->t_dl_reply, "/sys/%s/%s/thing/file/download_reply", pk, dn)) {
    errmsg(err, errlen, "%s: product or device name too long", name);
    destroy(d);
    return NULL;
  }
  return d;
}

static dialect *create_aliyun(const dialect_config *cfg, mqtt_link *link, char *err, size_t errlen) {
  return create_flavour(cfg, link, ALIYUN_PLAIN, err, errlen);
}

static dialect *create_haas(const dialect_config *cfg, mqtt_link *link, char *err, size_t errlen) {
  return create_flavour(cfg, link, ALIYUN_HAAS, err, errlen);
}

static void on_connect(dialect *d) {
  mqtt_link_subscribe(d->link, d->t_upgrade, 1);
  if (d->flavour == ALIYUN_PLAIN) {
    mqtt_link_subscribe(d->link, d->t_get_reply, 1);
    mqtt_link_subscribe(d->link, d->t_dl_reply, 1);
    d->ask_firmware = 1;
  }
}

static void inform(dialect *d, const char *module, const char *version) {
  cJSON *root = cJSON_CreateObject();
  add_id(d, root);
  cJSON *params = cJSON_AddObjectToObject(root, "params");
  cJSON_AddStringToObject(params, "version", version);
  cJSON_AddStringToObject(params, "module", module);
  mqtt_link_publish_json(d->link, d->t_inform, root, 1);
}

static void ask_firmware(dialect *d, const char *module) {
  cJSON *root = cJSON_CreateObject();
  add_id(d, root);
  cJSON_AddStringToObject(root, "version", "1.0");
  cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "params"), "module", module);
  mqtt_link_publish_json(d->link, d->t_get, root, 1);
}

static void report_version(dialect *d, const char *version) {
  /* One message per module (the platform's rule): the firmware first. */
  inform(d, "default", version);
  modstore_entry m[MODSTORE_MAX];
  char err[256];
  int n = d->state[0] ? modstore_list(d->state, m, MODSTORE_MAX, err, sizeof err) : 0;
  if (n < 0) console_log("%s: modules: %s", d->name, err);
  for (int i = 0; i < n; i++) inform(d, m[i].name, m[i].version);
  /* After a connect the Link SDK asks whether an upgrade waits for it. */
  if (d->ask_firmware) {
    d->ask_firmware = 0;
    ask_firmware(d, "default");
    for (int i = 0; i < n; i++) ask_firmware(d, m[i].name);
  }
}

int aliyun_fail_step(engine_fail reason) {
  switch (reason) {
  case ENGINE_FAIL_NONE: return 0;
  case ENGINE_FAIL_DOWNLOAD:
  case ENGINE_FAIL_NOT_FOUND:
  case ENGINE_FAIL_FORBIDDEN: return -2;
  case ENGINE_FAIL_DIGEST: return -3;
  case ENGINE_FAIL_UPDATE: return -4;
  }
  return -1;
}

static void report_progress(dialect *d, const engine_report *r) {
  int step;
  const char *desc = "";
  if (r->step == ENGINE_STEP_DOWNLOADING) {
    step = r->percent < 1 ? 1 : r->percent;
  } else if (r->step == ENGINE_STEP_FAIL) {
    step = aliyun_fail_step(r->reason);
    /* a failure reported before any upgrade of this session is the last
     * boot's: the new image did not come up, the upgrade failed as a whole */
    if (!d->updates_seen) step = -1;
    /* The defect: a verify failure reported as a download failure. */
    if (step == -3 && (d->bugs & BUG_WRONG_STEP_CODE)) step = -2;
    desc = r->msg;
  } else {
    /* burning and done have no step of their own: the new version's inform
     * says the upgrade succeeded */
    return;
  }
  int final = step < 0 || step == 100;
  if (d->last_progress > 0 && !(d->bugs & BUG_PROGRESS_SPAM)) {
    double wait = d->last_progress + (double)d->interval_ms / 1000.0 - now_s();
    if (wait > 0 && !final) return; /* the platform's rule: at most one per interval */
    /* a final step must reach the cloud: it waits for its turn */
    if (wait > 0) fs_sleep_ms((long)(wait * 1000.0) + 1);
  }
  d->last_progress = now_s();
  char num[16];
  snprintf(num, sizeof num, "%d", step);
  cJSON *root = cJSON_CreateObject();
  add_id(d, root);
  cJSON *params = cJSON_AddObjectToObject(root, "params");
  cJSON_AddStringToObject(params, "step", num);
  cJSON_AddStringToObject(params, "desc", desc);
  cJSON_AddStringToObject(params, "module", r->module && r->module[0] ? r->module : "default");
  mqtt_link_publish_json(d->link, d->t_progress, root, 1);
}

/* ---- parsing ------------------------------------------------------------- */

dialect_msg aliyun_parse_upgrade(const char *payload, size_t len, aliyun_flavour flavour, int lax_sign,
                                 engine_request *req, char *why, size_t whylen) {
  memset(req, 0, sizeof *req);
  cJSON *root = dialect_parse_object(payload, len, ALIYUN_MAX_PAYLOAD, why, whylen);
  if (!root) return DIALECT_MSG_MALFORMED;
  dialect_msg rc = DIALECT_MSG_MALFORMED;
  const cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "code");
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
  const cJSON *size = cJSON_GetObjectItemCaseSensitive(data, "size");
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(data, "version");
  const cJSON *method = cJSON_GetObjectItemCaseSensitive(data, "signMethod");
  const cJSON *sign = cJSON_GetObjectItemCaseSensitive(data, "sign");
  const cJSON *md5 = cJSON_GetObjectItemCaseSensitive(data, "md5");
  const cJSON *module = cJSON_GetObjectItemCaseSensitive(data, "module");
  const cJSON *url = cJSON_GetObjectItemCaseSensitive(data, "url");
  const cJSON *proto = cJSON_GetObjectItemCaseSensitive(data, "dProtocol");
  const cJSON *sid = cJSON_GetObjectItemCaseSensitive(data, "streamId");
  const cJSON *fid = cJSON_GetObjectItemCaseSensitive(data, "streamFileId");
  const cJSON *ext = cJSON_GetObjectItemCaseSensitive(data, "extData");
  double c = cJSON_IsNumber(code) ? code->valuedouble : cJSON_IsString(code) ? atof(code->valuestring) : 1000;
  int mqtt = cJSON_IsString(proto) && strcasecmp(proto->valuestring, "mqtt") == 0;
  int sha = cJSON_IsString(method) && strcasecmp(method->valuestring, "SHA256") == 0;
  int md = !cJSON_IsString(method) || strcasecmp(method->valuestring, "MD5") == 0;
  int unverified = lax_sign && !sha && !md;
  /* MD5: the vendor SDK checks `md5`; HaaS hands `sign` to ota.verify */
  const cJSON *md5src = flavour == ALIYUN_HAAS ? (cJSON_IsString(sign) ? sign : md5)
                                               : (cJSON_IsString(md5) ? md5 : sign);
  if (c != 1000 && c != 200)
    errmsg(why, whylen, "code %g is not a success", c);
  else if (!cJSON_IsObject(data))
    errmsg(why, whylen, "\"data\" is missing or not an object");
  else if (!data->child)
    rc = DIALECT_MSG_IGNORED, errmsg(why, whylen, "no firmware waits (empty data)");
  else if (!dialect_json_int(size, 1, mqtt ? ALIYUN_MAX_FILE : 4294967295.0))
    errmsg(why, whylen, "data.size is missing or not an integer in 1..%u", mqtt ? ALIYUN_MAX_FILE : 0xffffffffu);
  else if (!cJSON_IsString(ver) || !*ver->valuestring || strlen(ver->valuestring) > FLASH_VERSION_MAX ||
           !dialect_printable(ver->valuestring))
    errmsg(why, whylen, "data.version is missing, empty, longer than %u or not printable", FLASH_VERSION_MAX);
  else if (!sha && !md && !unverified)
    errmsg(why, whylen, "data.signMethod '%.20s' is neither MD5 nor SHA256", method->valuestring);
  else if (sha && (!cJSON_IsString(sign) || !digest_is_hex(sign->valuestring, 64)))
    errmsg(why, whylen, "data.sign is not 64 hex digits (signMethod SHA256)");
  else if (md && (!cJSON_IsString(md5src) || !digest_is_hex(md5src->valuestring, 32)))
    errmsg(why, whylen, "data.md5/sign is not 32 hex digits (signMethod MD5)");
  else if (module && (!cJSON_IsString(module) || !modstore_valid_name(module->valuestring)))
    errmsg(why, whylen, "data.module is not a module name");
  else if (ext && !cJSON_IsObject(ext))
    errmsg(why, whylen, "data.extData is not an object");
  else if (mqtt && flavour == ALIYUN_HAAS)
    errmsg(why, whylen, "dProtocol mqtt: HaaS downloads over HTTP only");
  else if (mqtt && (!dialect_json_int(sid, 0, 9.2e18) || !dialect_json_int(fid, 0, 2147483647.0)))
    errmsg(why, whylen, "data.streamId or data.streamFileId is missing or not an integer");
  else if (!mqtt && (!cJSON_IsString(url) || strlen(url->valuestring) >= ENGINE_URL_MAX ||
                     !dialect_http_url(url->valuestring)))
    errmsg(why, whylen, "data.url is missing or not an http(s) URL");
  else {
    req->size = (uint64_t)size->valuedouble;
    snprintf(req->version, sizeof req->version, "%s", ver->valuestring);
    if (sha) {
      snprintf(req->sha256, sizeof req->sha256, "%s", sign->valuestring);
      digest_hex_lower(req->sha256);
    } else if (!unverified) {
      snprintf(req->md5, sizeof req->md5, "%s", md5src->valuestring);
      digest_hex_lower(req->md5);
    }
    snprintf(req->module, sizeof req->module, "%s", cJSON_IsString(module) ? module->valuestring : "default");
    if (mqtt)
      snprintf(req->url, sizeof req->url, "mqtt-stream:%.0f/%.0f", sid->valuedouble, fid->valuedouble);
    else
      snprintf(req->url, sizeof req->url, "%s", url->valuestring);
    rc = DIALECT_MSG_UPDATE;
  }
  cJSON_Delete(root);
  return rc;
}

static dialect_msg on_message(dialect *d, const char *topic, const char *payload, size_t len,
                              int too_large, engine_request *req, char *why, size_t whylen) {
  int get = d->flavour == ALIYUN_PLAIN && strcmp(topic, d->t_get_reply) == 0;
  if (d->flavour == ALIYUN_PLAIN && strcmp(topic, d->t_dl_reply) == 0) {
    on_block_reply(d, payload, len, too_large, why, whylen);
    return DIALECT_MSG_IGNORED;
  }
  if (!get && strcmp(topic, d->t_upgrade) != 0) {
    errmsg(why, whylen, "message on unexpected topic %s", topic);
    return DIALECT_MSG_IGNORED;
  }
  /* too large: the link dropped the payload, the parser says so */
  dialect_msg rc =
      aliyun_parse_upgrade(payload, len, d->flavour, (d->bugs & BUG_ACCEPTS_UNKNOWN_SIGN) != 0, req, why, whylen);
  if (rc != DIALECT_MSG_UPDATE) return rc;
  if (strncmp(req->url, "mqtt-stream:", 12) == 0) req->blocks = &d->src;
  if (d->bugs & BUG_IGNORES_MODULE) snprintf(req->module, sizeof req->module, "default");
  if (d->flavour == ALIYUN_HAAS)
    console_log("haas on_trigger url=%s length=%" PRIu64 " module_name=%s version=%s hash=%s hash_type=%s",
                req->url, req->size, req->module, req->version, req->sha256[0] ? req->sha256 : req->md5,
                req->sha256[0] ? "sha256" : "md5");
  d->updates_seen = 1;
  return rc;
}

/* HaaS is Aliyun with another flavour: every operation is shared but create. */
#define ALIYUN_FAMILY_OPS(NAME, CREATE)                                                        \
  {                                                                                            \
    .name = NAME, .client_id = client_id, .create = CREATE, .on_connect = on_connect,          \
    .report_version = report_version, .report_progress = report_progress,                      \
    .on_message = on_message, .destroy = destroy,                                              \
  }

const dialect_ops dialect_aliyun_ops = ALIYUN_FAMILY_OPS("aliyun", create_aliyun);
const dialect_ops dialect_haas_ops = ALIYUN_FAMILY_OPS("haas", create_haas);
