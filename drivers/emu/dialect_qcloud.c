#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "dialect_qcloud.h"
#include "digest.h"

struct dialect {
  mqtt_link *link;
  char report_topic[256];
  char update_topic[256];
};

static void client_id(const dialect_config *cfg, char *buf, size_t len) {
  snprintf(buf, len, "%s.%s", cfg->product, cfg->device);
}

static dialect *create(const dialect_config *cfg, mqtt_link *link, char *err, size_t errlen) {
  dialect *d = calloc(1, sizeof *d);
  if (!d) {
    errmsg(err, errlen, "qcloud: out of memory");
    return NULL;
  }
  d->link = link;
  int a = snprintf(d->report_topic, sizeof d->report_topic, "$ota/report/%s/%s", cfg->product,
                   cfg->device);
  int b = snprintf(d->update_topic, sizeof d->update_topic, "$ota/update/%s/%s", cfg->product,
                   cfg->device);
  if (a < 0 || b < 0 || (size_t)a >= sizeof d->report_topic || (size_t)b >= sizeof d->update_topic) {
    errmsg(err, errlen, "qcloud: product or device name too long");
    free(d);
    return NULL;
  }
  return d;
}

static void on_connect(dialect *d) { mqtt_link_subscribe(d->link, d->update_topic, 1); }

static void report_version(dialect *d, const char *version) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "type", "report_version");
  cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "report"), "version", version);
  mqtt_link_publish_json(d->link, d->report_topic, root, 1);
}

int qcloud_result_code(engine_fail reason) {
  switch (reason) {
  case ENGINE_FAIL_NONE: return 0;
  case ENGINE_FAIL_DOWNLOAD: return -1;
  case ENGINE_FAIL_NOT_FOUND: return -2;
  case ENGINE_FAIL_FORBIDDEN: return -3;
  case ENGINE_FAIL_DIGEST: return -4;
  case ENGINE_FAIL_UPDATE: return -5;
  }
  return -5;
}

static cJSON *progress_object(const engine_report *r) {
  static const char *states[] = {"downloading", "burning", "done", "fail"};
  char num[16];
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "type", "report_progress");
  cJSON *rep = cJSON_AddObjectToObject(root, "report");
  cJSON *prog = cJSON_AddObjectToObject(rep, "progress");
  cJSON_AddStringToObject(prog, "state", states[r->step]);
  if (r->step == ENGINE_STEP_DOWNLOADING) {
    snprintf(num, sizeof num, "%d", r->percent);
    cJSON_AddStringToObject(prog, "percent", num);
  }
  snprintf(num, sizeof num, "%d", r->step == ENGINE_STEP_FAIL ? qcloud_result_code(r->reason) : 0);
  cJSON_AddStringToObject(prog, "result_code", num);
  cJSON_AddStringToObject(prog, "result_msg", r->step == ENGINE_STEP_FAIL ? r->msg : "");
  cJSON_AddStringToObject(rep, "version", r->version);
  return root;
}

char *qcloud_progress_json(const engine_report *r) {
  cJSON *root = progress_object(r);
  char *text = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return text;
}

static void report_progress(dialect *d, const engine_report *r) {
  mqtt_link_publish_json(d->link, d->report_topic, progress_object(r), 1);
}

dialect_msg qcloud_parse_update(const char *payload, size_t len, engine_request *req, char *why,
                                size_t whylen) {
  memset(req, 0, sizeof *req);
  cJSON *root = dialect_parse_object(payload, len, QCLOUD_MAX_PAYLOAD, why, whylen);
  if (!root) return DIALECT_MSG_MALFORMED;
  dialect_msg rc = DIALECT_MSG_MALFORMED;
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
  const cJSON *size = cJSON_GetObjectItemCaseSensitive(root, "file_size");
  const cJSON *md5 = cJSON_GetObjectItemCaseSensitive(root, "md5sum");
  const cJSON *url = cJSON_GetObjectItemCaseSensitive(root, "url");
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
  if (!cJSON_IsString(type))
    errmsg(why, whylen, "\"type\" is missing or not a string");
  else if (strcmp(type->valuestring, "update_firmware") != 0)
    errmsg(why, whylen, "type \"%.40s\" is not update_firmware", type->valuestring);
  else if (!dialect_json_int(size, 1, 4294967295.0 + 64))
    errmsg(why, whylen, "\"file_size\" is missing or not a positive integer");
  else if (!cJSON_IsString(md5) || !digest_is_hex(md5->valuestring, 32))
    errmsg(why, whylen, "\"md5sum\" is missing or not 32 hex digits");
  else if (!cJSON_IsString(url) || strlen(url->valuestring) >= ENGINE_URL_MAX ||
           !dialect_http_url(url->valuestring))
    errmsg(why, whylen, "\"url\" is missing or not an http(s) URL");
  else if (!cJSON_IsString(ver) || !*ver->valuestring ||
           strlen(ver->valuestring) > FLASH_VERSION_MAX || !dialect_printable(ver->valuestring))
    errmsg(why, whylen, "\"version\" is missing, empty, longer than %u or not printable",
             FLASH_VERSION_MAX);
  else {
    req->size = (uint64_t)size->valuedouble;
    memcpy(req->md5, md5->valuestring, 33);
    digest_hex_lower(req->md5);
    memcpy(req->url, url->valuestring, strlen(url->valuestring) + 1);
    memcpy(req->version, ver->valuestring, strlen(ver->valuestring) + 1);
    rc = DIALECT_MSG_UPDATE;
  }
  cJSON_Delete(root);
  return rc;
}

static dialect_msg on_message(dialect *d, const char *topic, const char *payload, size_t len,
                              int too_large, engine_request *req, char *why, size_t whylen) {
  if (strcmp(topic, d->update_topic) != 0) {
    errmsg(why, whylen, "message on unexpected topic %s", topic);
    return DIALECT_MSG_IGNORED;
  }
  (void)too_large; /* the link drops the payload then: the parser says so */
  return qcloud_parse_update(payload, len, req, why, whylen);
}

static void destroy(dialect *d) { free(d); }

const dialect_ops dialect_qcloud_ops = {
    .name = "qcloud",
    .client_id = client_id,
    .create = create,
    .on_connect = on_connect,
    .report_version = report_version,
    .report_progress = report_progress,
    .on_message = on_message,
    .destroy = destroy,
};
