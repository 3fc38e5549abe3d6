/* power_int: what the power drivers share (private to drivers/power).
 * Each driver file defines one power_ops; power.c dispatches to it and puts
 * "device 'x': power on (driver): " in front of the driver's message. */
#ifndef OTAHIL_POWER_INT_H
#define OTAHIL_POWER_INT_H

#include "power.h"

typedef struct power_ops {
  const char *name;
  /* Driver keys of the table (besides driver, timeout, at_exit); the check of
   * their values. NULL keys: any key is allowed (exec: free keys are placeholders). */
  const char *const *keys;
  int (*check)(const cJSON *cfg, char *err, size_t errlen);
  int (*open)(power *p, char *err, size_t errlen); /* may be NULL */
  int (*on)(power *p, const power_opts *o, double timeout, char *err, size_t errlen);
  int (*off)(power *p, const power_opts *o, double timeout, char *err, size_t errlen);
  /* NULL, or returns 1 when the table has no cycle of its own: then off, sleep, on */
  int (*cycle)(power *p, const power_opts *o, double timeout, char *err, size_t errlen);
  /* NULL when the hardware cannot tell */
  int (*state)(power *p, const power_opts *o, double timeout, power_state_t *out, char *err,
               size_t errlen);
  int (*can_tell)(const power *p); /* NULL: state != NULL decides */
  void (*close)(power *p);
} power_ops;

struct power {
  const power_ops *ops;
  cJSON *cfg; /* a copy of the lab table */
  char *device;
  double timeout;
  void *priv;
};

extern const power_ops power_exec_ops, power_pdudaemon_ops, power_serial_dtr_ops, power_http_ops;

/* Expands {key} placeholders in s from o->vars, then (if free_keys) from the
 * table's own string/number keys. Returns a malloc'd string, or NULL with err
 * "uses the unknown placeholder {x}". */
char *power__expand(const power *p, const char *s, const power_opts *o, int free_keys, char *err,
                    size_t errlen);

/* A string key of the table (NULL if absent or not a string). */
const char *power__str(const cJSON *cfg, const char *key);

/* Type checks used by the drivers' check(); each writes "power.<key> ..." to err. */
int power__check_string(const cJSON *cfg, const char *key, int required, char *err, size_t errlen);
int power__check_argv(const cJSON *cfg, const char *key, int required, char *err, size_t errlen);
int power__check_choice(const cJSON *cfg, const char *key, const char *const *choices, char *err,
                        size_t errlen);

/* Monotonic seconds; sleeps (for cycle without a request of its own). */
double power__now(void);
void power__sleep(double seconds);

/* One HTTP request with libcurl (power_curl.c). body may be NULL; *resp gets
 * the response body (malloc'd, NUL-terminated, at most 64 KiB) when resp != NULL.
 * Returns 0 with *status, or -1 with err (connection refused, timeout, ...). */
int power__http(const char *method, const char *url, const char *body, const char *user,
                const char *password, double timeout, long *status, char **resp, char *err,
                size_t errlen);

/* Copies the last line of text (trimmed) into out, for error messages. */
void power__last_line(const char *text, size_t len, char *out, size_t outlen);

#endif
