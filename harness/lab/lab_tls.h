/* lab_tls: a lab device's `tls` key (lab_device_check.c calls it): the device reaches the cloud
 * over TLS, as production firmware does: MQTT over TLS and https:// firmware URLs,
 * terminated by the device's fault proxies (netem), so every fault stays byte-exact.
 *
 *   tls = true                  -- otahil makes a test PKI for the run, in
 *                               -- <report>/work/tls/<device>/ (a new CA per report folder)
 *   tls = { dir = "pki" }       -- the test PKI kept in this folder (relative to the lab
 *                               -- file): made once (`otahil tls ca --out pki`), its ca.pem
 *                               -- is what a board's firmware is built with
 *   tls = { ca = "ca.pem", cert = "server.pem", key = "server.key" }  -- the lab's own
 *   tls = false                 -- plain TCP (the default)
 *
 * With a PKI (true or dir), the server certificate is issued for network.host,
 * network.listen, localhost, 127.0.0.1 and ::1, and the wrong certificates the TLS
 * faults present (expired, wrong name, untrusted CA) are there too.
 * The key is made { ca =, cert =, key = [, pki = DIR] } with absolute paths, or removed
 * when false. Returns 0, or -1 with err = the message without its location. */
#ifndef OTAHIL_LAB_TLS_H
#define OTAHIL_LAB_TLS_H

#include <cjson/cJSON.h>
#include <stddef.h>

int lab_tls_check(cJSON *spec, const char *lab_dir, const char *image_dir, const char *device, char *err,
                  size_t errlen);

#endif
