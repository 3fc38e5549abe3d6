/* dialect_quecthing: Quectel QuecThing FOTA and SOTA (seeds 000 and 002), the
 * module side. The wire format is ours (QuecThing's own protocol is not
 * public): JSON objects with an "event" over MQTT, one message per call or
 * callback of the QuecPython API. scenarios/lib/quecthing.lua documents it in
 * full; in short:
 *
 *   up    qth/{PK}/{DN}/up     version, setMcuVer, otaRequest, otaAction,
 *                              otaStep, fotaResult, sotaResult
 *   down  qth/{PK}/{DN}/down   otaPlan, userConfirm, fotaInfo, sotaInfo
 *   lab   qth/{PK}/{DN}/lab    {battery, signal, disk}: the emulator's sensors
 *                              (not QuecThing; lets a scenario vary them)
 *
 * Result codes: 0 success, -1 download failed, -2 file not found, -3 URL
 * expired, -4 MD5 or size mismatch, -5 update failed, -6 CRC32 mismatch,
 * -7 SHA-256 mismatch, -8 transfer to the MCU failed.
 */
#ifndef OTAHIL_EMU_DIALECT_QUECTHING_H
#define OTAHIL_EMU_DIALECT_QUECTHING_H

#include "dialect.h"

#define QTH_MAX_PAYLOAD 16384u

extern const dialect_ops dialect_quecthing_ops;

/* The result code for a failure (see above); `msg` tells digest kinds apart. */
int quecthing_result_code(engine_fail reason, const char *msg);

#endif
