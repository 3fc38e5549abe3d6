/* lab: the lab file, a Lua file that declares the devices of a rack.
 *
 *   device "emu1" {
 *     dialect = "qcloud", product = "P1", device = "emu1", version = "1.0.0",
 *     kind = "process", cmd = { "{bindir}/otadev", "--state", "{state_dir}", ... },
 *     images = { good = { ["2.0.0"] = otadev_image{ version = "2.0.0", size = 262144 } },
 *                fail_boot = { version = "2.9.0", file = "fw/bad-boot.bin" },
 *                fail_burn = { version = "2.8.0", file = "fw/bad-burn.bin" } },
 *     timing = { boot = 2, download_timeout = 3 },
 *     features = { "power", "console" },
 *   }
 *
 * lab_load validates each declaration once (lab_device.c and the lab_<key>.c
 * checks) and makes it a typed lab_device that the runner, the devices and the
 * Lua API read; nobody outside harness/lab digs in the declaration itself.
 * Every wrong key, type or missing file is an error "file:line: device 'x': ...". */
#ifndef OTAHIL_LAB_H
#define OTAHIL_LAB_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "uart_console.h"

#define LAB_TIMING_MAX 32 /* timing knobs a device may have */

/* A list of strings: n of them, v[n] == NULL (an argv as it stands). */
typedef struct lab_list {
  size_t n;
  const char **v;
} lab_list;

/* name -> string pairs (env, modules, lines), in the Lua table's traversal order
 * (unspecified: a reader looks a name up, it does not count on places). */
typedef struct lab_pairs {
  size_t n;
  const char **keys, **values;
} lab_pairs;

typedef enum { LAB_PROCESS, LAB_BOARD } lab_kind;

/* Where the device reaches its two fault proxies (lab_network.h): defaults filled in. */
typedef struct lab_net {
  const char *listen, *host;
  int mqtt_port, http_port; /* 0: a free port each case */
} lab_net;

/* tls = ... (lab_tls.h), made absolute paths; on = 0 for plain TCP (all NULL). */
typedef struct lab_tls_files {
  int on;
  const char *ca, *cert, *key;
  const char *pki; /* the test PKI's folder (the wrong certificates of TLS faults), or NULL */
} lab_tls_files;

typedef struct lab_knob {
  const char *name;
  double value; /* finite, >= 0 */
} lab_knob;

/* One checked device. Every string points into `spec` (or is `name`) and lives
 * as long as the lab; nothing here is the reader's to free. */
typedef struct lab_device {
  char *name;
  int line; /* where `device "name"` stands in the lab file */
  const char *dialect, *product, *device, *version; /* non-empty; product, device: 1..128 bytes, no '/' */
  const char *secret;                               /* NULL without one */
  lab_kind kind;
  lab_list cmd;  /* a process device's argv, {placeholders} unfilled (n >= 1); empty for a board */
  int graceful;  /* a process's power off: SIGTERM, then SIGKILL */
  lab_pairs env; /* NAME -> value with {placeholders} */
  /* a board's power table (NULL for a process): drivers/power takes its config as
   * cJSON (power_new), since each driver reads its own keys */
  const cJSON *power;
  lab_net net;
  lab_tls_files tls;
  int auth_platform; /* auth = "platform": the dialect library judges each CONNECT */
  console_config console; /* defaults filled in (a pty unless the lab says otherwise) */
  /* console.death for the console's matcher (api_uart_push walks it: texts and
   * { re = } tables as the lab wrote them), or NULL */
  const cJSON *death;
  struct {
    int on;           /* the device has deploy = {...} */
    lab_list cmd;     /* argv with {placeholders} and {image} */
    double timeout_s; /* default LAB_DEPLOY_TIMEOUT */
  } deploy;
  const char *base_image; /* absolute path, or NULL */
  /* images = {...} with absolute paths: a nested table (good[version], fail_boot,
   * fail_burn) that scenarios read through t.device.images and the runner walks
   * for the files a case may read; kept as the tree it is */
  const cJSON *images;
  struct {
    size_t n;
    lab_knob knob[LAB_TIMING_MAX];
  } timing;
  lab_list features; /* default { "power", "console" } */
  lab_list strict;   /* rules asked beyond the lenient reading */
  lab_pairs modules; /* component -> factory version */
  lab_pairs lines;   /* name -> Lua pattern of the console */
  int uses_mcu_tty;  /* cmd, env or deploy.cmd names {mcu_tty} or {mcu_peer_tty} */
  /* The validated declaration as a table: Lua gets it as t.device (api_push_json),
   * so a scenario reads each key as the lab wrote it (defaults filled in). C reads
   * the typed fields above. */
  cJSON *spec;
} lab_device;

typedef struct lab {
  char *file;
  lab_device *devices;
  size_t count;
  char **libs; /* lib = { "folder", ... }: the lab's own library folders, resolved
                  (NULL-terminated; NULL without lib) */
} lab;

/* Loads and validates `path`. Images declared with otadev_image{} are built in
 * `image_dir`. Returns 0 and *out (the caller frees it with lab_free), or -1
 * with err = "file:line: message". */
int lab_load(const char *path, const char *image_dir, lab **out, char *err, size_t errlen);
void lab_free(lab *l);

/* 1 if the device declares the feature `name`, else 0. */
int lab_device_has_feature(const lab_device *d, const char *name);

/* The timing knob `name`: 1 and *value when the lab sets it, else 0. */
int lab_device_timing(const lab_device *d, const char *name, double *value);

#endif
