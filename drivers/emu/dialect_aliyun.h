/* dialect_aliyun: Aliyun IoT Platform OTA over MQTT (seed 003), and the
 * shared core of dialect_haas (seed 004, AliOS Things' `ota` module, which
 * speaks the same topics).
 *
 *   up    /ota/device/inform/{PK}/{DN}     {"id","params":{"version","module"}}, one per module
 *   down  /ota/device/upgrade/{PK}/{DN}    {"code":"1000","data":{size, version, isDiff,
 *                                          signMethod MD5|SHA256, sign, md5, module, extData,
 *                                          url | dProtocol "mqtt", streamId, streamFileId}}
 *   up    /ota/device/progress/{PK}/{DN}   {"id","params":{"step":"1".."100"|"-1".."-4","desc","module"}}
 *   up    /sys/{PK}/{DN}/thing/ota/firmware/get        {"id","version":"1.0","params":{"module"}}
 *   down  /sys/{PK}/{DN}/thing/ota/firmware/get_reply  {"id","code":200,"data":{as upgrade, or {}}}
 *   up    /sys/{PK}/{DN}/thing/file/download           {"id","version":"1.0","params":{"fileToken",
 *                                          "fileInfo":{"streamId","fileId"},"fileBlock":{"size","offset"}}}
 *   down  /sys/{PK}/{DN}/thing/file/download_reply     binary, see below
 *
 * Steps: 1..100 download progress; -1 upgrade failed (here: the new image did
 * not boot), -2 download failed, -3 verify failed, -4 burn failed. The
 * platform asks for at most one progress report per 3 s (--progress-interval-ms):
 * intermediate percents are dropped, a final one (100 or a failure) waits for
 * its turn. Success is the new version informed (after a reboot for the
 * firmware, at once for another module).
 *
 * download_reply, as the Link SDK C (components/mqtt_download) reads it:
 *   2 bytes  length N of the JSON header, big endian
 *   N bytes  {"id","code":200,"msg","data":{"fileToken","fileLength","bSize","bOffset"}}
 *   bSize bytes of the file at bOffset
 *   2 bytes  CRC-16/ARC of those bytes; the SDK reads them as a native
 *            uint16_t on little-endian chips, so little endian here.
 * A reply with a bad frame or CRC is asked for again at once; a lost one after
 * --block-timeout-ms. The seed and the vendor agree on the request fields and
 * the block size range 256..131072 (the last block may be smaller).
 *
 * Digest (vendor, Link SDK): signMethod "SHA256" -> `sign` is the SHA-256 to
 * verify; "MD5"/"Md5" -> `md5` (or `sign` when md5 is missing).
 */
#ifndef OTAHIL_EMU_DIALECT_ALIYUN_H
#define OTAHIL_EMU_DIALECT_ALIYUN_H

#include <stdint.h>

#include "dialect.h"

#define ALIYUN_MAX_PAYLOAD 16384u
#define ALIYUN_MAX_FILE (16u << 20) /* MQTT download limit of the platform */

typedef enum aliyun_flavour { ALIYUN_PLAIN = 0, ALIYUN_HAAS = 1 } aliyun_flavour;

/* dialect_haas_ops (dialect_haas.h) is defined next to it, in
 * dialect_aliyun.c: the same operations with the ALIYUN_HAAS flavour. */
extern const dialect_ops dialect_aliyun_ops;

/* Parses an upgrade (or non-empty get_reply) payload into `req`. For MQTT
 * streams req->url becomes "mqtt-stream:STREAMID/FILEID" and req->blocks
 * stays NULL (the dialect sets it). Returns DIALECT_MSG_UPDATE, or
 * DIALECT_MSG_MALFORMED with the reason in `why`; DIALECT_MSG_IGNORED for a
 * get_reply without firmware. `lax_sign` (the accepts-unknown-sign defect): a
 * signMethod other than MD5 and SHA256 is taken, with nothing to verify. */
dialect_msg aliyun_parse_upgrade(const char *payload, size_t len, aliyun_flavour flavour, int lax_sign,
                                 engine_request *req, char *why, size_t whylen);

/* The step for a failure reason (-2, -3, -4). */
int aliyun_fail_step(engine_fail reason);

/* Parses a download_reply frame. On success fills offset, size, token (17
 * bytes) and points `*block` into `p`; returns 0. Returns 1 when the cloud
 * answered with a code other than 200 (reason in `why`), -1 when the frame is
 * broken (reason in `why`). `check_crc` 0 skips the CRC (a defect). */
int aliyun_parse_block(const unsigned char *p, size_t len, int check_crc, uint64_t *offset,
                       uint32_t *size, char token[17], const unsigned char **block, char *why,
                       size_t whylen);

#endif
