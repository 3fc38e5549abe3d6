/* netem_fault: what a fault is, and its text form (the SPEC of `otahil netem --fault`).
 *
 * A fault is a plain struct so the Lua API can fill one from a table; the text form is
 * parsed into the same struct. netem_fault_help() documents the syntax.
 */
#ifndef OTAHIL_NETEM_FAULT_H
#define OTAHIL_NETEM_FAULT_H

#include <stddef.h>
#include <stdint.h>

enum netem_dir { NETEM_DIR_DEFAULT = 0, NETEM_DIR_UP = 1, NETEM_DIR_DOWN = 2, NETEM_DIR_BOTH = 3 };

enum netem_fault_kind {
  NETEM_FAULT_CUT = 1,   /* close (FIN) or reset (RST) at a byte/body offset or after ms */
  NETEM_FAULT_STALL,     /* stop forwarding at an offset (or at once), for ms or until cleared */
  NETEM_FAULT_THROTTLE,  /* at most `rate` bytes/s per connection */
  NETEM_FAULT_LATENCY,   /* delay every chunk by ms +- jitter_ms, order kept */
  NETEM_FAULT_FLAP,      /* cut whichever connection carries the next `every` bytes (proxy-wide) */
  NETEM_FAULT_CORRUPT,   /* change bytes at offsets, or `random` bytes chosen from the seed */
  NETEM_FAULT_MQTT_DROP, /* drop PUBLISH packets whose topic matches `topic` */
  NETEM_FAULT_MQTT_DELAY,
  NETEM_FAULT_MQTT_DUP,
  NETEM_FAULT_MQTT_CORRUPT, /* change `random` bytes (default 1) of the payload, or at `offsets` */
  NETEM_FAULT_MQTT_CUT      /* close the connection after the `nth` matching PUBLISH */
};

enum netem_unit {
  NETEM_UNIT_BYTES = 0, /* offsets count bytes of the direction's stream on one connection */
  NETEM_UNIT_BODY       /* offsets count HTTP body bytes of one message (needs the HTTP view) */
};

#define NETEM_MAX_OFFSETS 64
#define NETEM_TOPIC_MAX 256

struct netem_fault {
  enum netem_fault_kind kind;
  enum netem_dir dir;     /* DEFAULT: down, except mqtt-* faults which apply both ways */
  enum netem_unit unit;
  int has_at;             /* cut/stall: trigger at offset `at` (else cut needs ms, stall is at once) */
  uint64_t at;
  uint64_t ms;            /* cut: after ms; stall: duration (0 = until cleared); latency, mqtt-delay */
  uint64_t jitter_ms;     /* latency */
  uint64_t rate;          /* throttle, bytes per second */
  uint64_t every;         /* flap */
  int rst;                /* cut, flap, mqtt-cut: reset instead of close */
  uint32_t times;         /* how many connections/messages/packets it acts on; 0 = no limit */
  int times_set;          /* 0: use the kind's default (1 for cut, stall, corrupt; else no limit) */
  uint64_t offsets[NETEM_MAX_OFFSETS]; /* corrupt, mqtt-corrupt: offsets (body/stream/payload) */
  size_t n_offsets;
  uint32_t random;        /* corrupt, mqtt-corrupt: how many random bytes instead of offsets */
  uint64_t within;        /* corrupt random: choose in [0, within); 0 = Content-Length or 64 KiB */
  int xor_mask;           /* corrupt: byte ^= xor_mask; 0 = a random non-zero mask per byte */
  char topic[NETEM_TOPIC_MAX]; /* mqtt-*: topic filter with + and # */
  uint32_t nth;           /* mqtt-cut */
  int has_alert;          /* cut, on a proxy terminating TLS: send the client a fatal TLS alert */
  int alert;              /* with this description (RFC 8446 6: 80 internal_error, ...), then close */
};

/* Fills *f with the defaults for `kind` (dir DEFAULT, times unset...). */
void netem_fault_init(struct netem_fault *f, enum netem_fault_kind kind);

/* Parses SPEC, e.g. "cut:body=40000,rst", "corrupt:body=1000,2000", "throttle:rate=20KB/s",
 * "latency:ms=50,jitter=10", "mqtt-drop:topic=$ota/update/+/+,count=1". Returns 0 or
 * UV_EINVAL with a message naming the offending key in err. */
int netem_fault_parse(const char *spec, struct netem_fault *f, char *err, size_t errlen);

/* Checks a filled struct (also done by netem_fault_add()). 0 or UV_EINVAL + message. */
int netem_fault_check(const struct netem_fault *f, char *err, size_t errlen);

/* The kind's name as in SPEC ("cut", "mqtt-drop", ...), or "?" */
const char *netem_fault_kind_name(enum netem_fault_kind kind);
int netem_fault_kind_from_name(const char *name, enum netem_fault_kind *kind);

/* TLS alert descriptions by their RFC 8446 names ("internal_error", "bad_record_mac", ...):
 * the code (0..255), or -1 for an unknown name; the name of a code, or NULL. */
int netem_tls_alert_from_name(const char *name);
const char *netem_tls_alert_name(int code);

/* The effective direction and times of a fault after defaults. */
enum netem_dir netem_fault_dir(const struct netem_fault *f);
uint32_t netem_fault_times(const struct netem_fault *f);

/* Writes a SPEC-like description of f into buf (always terminated); returns buf. */
char *netem_fault_describe(const struct netem_fault *f, char *buf, size_t size);

/* The fault syntax, for --help (a static string). */
const char *netem_fault_help(void);

#endif
