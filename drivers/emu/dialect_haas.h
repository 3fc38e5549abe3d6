/* dialect_haas: AliOS Things HaaS `ota` (seed 004) over Aliyun's OTA topics.
 *
 * The HaaS Python API maps onto the Aliyun messages (dialect_aliyun.h):
 *   ota.report{product_key, device_name, module_name, version} -> inform, one per module
 *   on_trigger{url, length, module_name, version, hash, hash_type}  <- upgrade
 *       (length = size, module_name = module, hash = sign, hash_type = signMethod md5|sha256)
 *   ota.download{url, store_path} -> HTTP download into the store path (resumable part file)
 *   ota.verify{length, store_path, hash_type, hash} -> size and md5 or sha256 check (-3 on failure)
 *   upgrade: module "default" is the system firmware (A/B slots, reboot); any
 *   other module is a file installed in place (modstore.h), no reboot.
 * HaaS downloads over HTTP only and never asks firmware/get: a system upgrade
 * is triggered by the cloud when the device reports a version lower than the
 * cloud's (seed 004), which is the cloud's side (scenarios/lib/haas.lua).
 */
#ifndef OTAHIL_EMU_DIALECT_HAAS_H
#define OTAHIL_EMU_DIALECT_HAAS_H

#include "dialect.h"

/* Defined in dialect_aliyun.c: Aliyun's operations with the HaaS flavour. */
extern const dialect_ops dialect_haas_ops;

#endif
