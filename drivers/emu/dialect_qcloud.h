/* dialect_qcloud: Tencent Cloud IoT OTA over MQTT (seed 001).
 *
 *   up    $ota/report/{PK}/{DN}   report_version, report_progress
 *   down  $ota/update/{PK}/{DN}   update_firmware {file_size, md5sum, url, version}
 *
 * Progress messages keep the seed's shape, with percent and result_code as
 * strings; result codes: -1 download timeout, -2 file does not exist,
 * -3 signature expired, -4 MD5 mismatch, -5 update failed.
 */
#ifndef OTAHIL_EMU_DIALECT_QCLOUD_H
#define OTAHIL_EMU_DIALECT_QCLOUD_H

#include "dialect.h"

/* Larger downlink payloads are refused unparsed. */
#define QCLOUD_MAX_PAYLOAD 16384u

extern const dialect_ops dialect_qcloud_ops;

/* Parses an update_firmware payload (`len` bytes) into `req`. Returns
 * DIALECT_MSG_UPDATE, or DIALECT_MSG_MALFORMED with the reason in `why`. */
dialect_msg qcloud_parse_update(const char *payload, size_t len, engine_request *req, char *why,
                                size_t whylen);

/* Builds the report_progress JSON for `r` (malloc'd, the caller frees it), or
 * NULL when out of memory. */
char *qcloud_progress_json(const engine_report *r);

/* The seed's result code for a failure reason (0 for none). */
int qcloud_result_code(engine_fail reason);

#endif
