/* dialect: the boundary between a cloud platform's OTA protocol and the
 * generic device (mqtt_link + engine + flash).
 *
 * The device loop owns the MQTT link and calls a dialect through these
 * operations: when connected, for each message that arrives, and for each
 * step the engine reports. A dialect never downloads or burns; it turns
 * messages into an engine_request and engine_reports into messages. To add a
 * platform, write dialect_<name>.c with a `const dialect_ops` and list it in
 * dialect.c.
 */
#ifndef OTAHIL_EMU_DIALECT_H
#define OTAHIL_EMU_DIALECT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "cli.h"
#include "engine.h"
#include "mqtt_link.h"

typedef struct dialect dialect; /* each dialect defines its own struct */

typedef struct dialect_config {
  const char *product;
  const char *device;
  /* The whole command line (state directory, modules, knobs), for dialects
   * that need more than the names; may be NULL. */
  const otadev_config *opts;
} dialect_config;

/* How a dialect classified a message. */
typedef enum dialect_msg {
  DIALECT_MSG_IGNORED,   /* not for us (another topic): `why` says so */
  DIALECT_MSG_MALFORMED, /* for us, but unusable: `why` says what is wrong */
  DIALECT_MSG_UPDATE,    /* an upgrade order: `req` is filled */
} dialect_msg;

typedef struct dialect_ops {
  const char *name;
  /* The MQTT client id for this device (e.g. "PK.DN"). */
  void (*client_id)(const dialect_config *cfg, char *buf, size_t len);
  /* Makes the dialect state; `link` is borrowed. NULL with `err` on failure. */
  dialect *(*create)(const dialect_config *cfg, mqtt_link *link, char *err, size_t errlen);
  /* Called on every (re)connect: subscribe to the downlink topics. */
  void (*on_connect)(dialect *d);
  /* Publishes the running version. */
  void (*report_version)(dialect *d, const char *version);
  /* Publishes one upgrade step. */
  void (*report_progress)(dialect *d, const engine_report *r);
  /* Classifies one message. `payload` is NUL-terminated (`len` bytes) or NULL
   * when `too_large`. */
  dialect_msg (*on_message)(dialect *d, const char *topic, const char *payload, size_t len,
                            int too_large, engine_request *req, char *why, size_t whylen);
  void (*destroy)(dialect *d);
} dialect_ops;

/* The dialect called `name`, or NULL. */
const dialect_ops *dialect_find(const char *name);

/* The known names, ", " separated, into `buf`. */
void dialect_names(char *buf, size_t len);

/* ---- checks every dialect makes on what the cloud sends ---- */

/* Parses a downlink payload that must be one JSON object. Returns it (the
 * caller deletes it), or NULL with `why` set: "payload of N bytes is larger
 * than MAX" (also for a NULL payload, which the link drops as too large),
 * "not valid JSON" or "not a JSON object". */
cJSON *dialect_parse_object(const char *payload, size_t len, size_t max, char *why, size_t whylen);

/* 1 if `v` is a JSON number with an integer value in lo..hi, else 0. */
int dialect_json_int(const cJSON *v, double lo, double hi);

/* 1 if `s` has no control character, DEL or space (a version, a URL), else 0. */
int dialect_printable(const char *s);

/* 1 if `s` is printable (dialect_printable) and an http:// or https:// URL. */
int dialect_http_url(const char *s);

#endif
