/* cli: otadev's command line. */
#ifndef OTAHIL_EMU_CLI_H
#define OTAHIL_EMU_CLI_H

#include <stddef.h>
#include <stdio.h>

typedef struct otadev_config {
  const char *dialect;
  const char *host;
  int port;
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
} otadev_config;

enum { CLI_RUN = 0, CLI_HELP, CLI_VERSION, CLI_USAGE_ERROR };

/* Parses argv into `out` (strings point into argv). Returns CLI_RUN,
 * CLI_HELP, CLI_VERSION, or CLI_USAGE_ERROR with one line in `err`. */
int cli_parse(int argc, char **argv, otadev_config *out, char *err, size_t errlen);

/* Prints the usage text to `f`. */
void cli_usage(FILE *f);

#endif
