#include "dialect_aliyun.h"
#include "dialect_haas.h"

static dialect *create(const dialect_config *cfg, mqtt_link *link, char *err, size_t errlen) {
  return aliyun_create(cfg, link, ALIYUN_HAAS, err, errlen);
}

const dialect_ops dialect_haas_ops = {
    .name = "haas",
    .client_id = aliyun_client_id,
    .create = create,
    .on_connect = aliyun_on_connect,
    .report_version = aliyun_report_version,
    .report_progress = aliyun_report_progress,
    .on_message = aliyun_on_message,
    .destroy = aliyun_destroy,
};
