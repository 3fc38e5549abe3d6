/* cli: otadev's command line. */
#ifndef OTAHIL_EMU_CLI_H
#define OTAHIL_EMU_CLI_H

#include <stddef.h>
#include <stdio.h>

#define CLI_MODULES_MAX 8

typedef struct otadev_config {
  const char *dialect;
  const char *host;
  int port;
  const char *ca_file;    /* --ca: TLS (MQTT over TLS, https:// downloads) trusting this CA */
  const char *secret;     /* --secret: the device secret its MQTT login is signed with (login.h) */
  long sign_lifetime;     /* --sign-lifetime: seconds a Tencent signature is valid (its expiry) */
  const char *product;
  const char *device;
  const char *state;      /* the flash directory */
  const char *version;    /* factory version */
  long boot_ms;
  long burn_ms;
  long download_timeout;  /* seconds */
  int retries;
  int progress_step;      /* percent */
  long report_interval;   /* seconds, 0 = off */
  unsigned bugs;          /* BUG_* */
  /* aliyun and haas */
  const char *modules[CLI_MODULES_MAX]; /* --module NAME=VERSION: modules besides the firmware */
  int nmodules;
  long progress_interval_ms; /* at most one progress report per interval (Aliyun: 3 s) */
  long block_size;           /* bytes per MQTT block request (256..131072) */
  long block_timeout_ms;     /* wait for a block reply before asking again */
  /* quecthing: the module's sensors (the plan's minimums are checked against
   * them) and its external MCU (SOTA) */
  long battery;              /* percent */
  long signal;               /* dBm */
  long disk;                 /* free bytes */
  const char *mcu;           /* the MCU's component id, NULL = no MCU */
  const char *mcu_version;   /* its factory version */
  const char *mcu_tty;       /* the module's side of the UART */
  const char *mcu_peer_tty;  /* the MCU's side, given to the MCU program */
  const char *mcu_exec;      /* the MCU program (default: otamcu beside otadev) */
} otadev_config;

enum { CLI_RUN = 0, CLI_HELP, CLI_VERSION, CLI_USAGE_ERROR };

/* Parses argv into `out` (strings point into argv). Returns CLI_RUN,
 * CLI_HELP, CLI_VERSION, or CLI_USAGE_ERROR with one line in `err`. */
int cli_parse(int argc, char **argv, otadev_config *out, char *err, size_t errlen);

/* Prints the usage text to `f`. */
void cli_usage(FILE *f);

#endif
