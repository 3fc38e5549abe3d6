/* otadev: an emulated IoT device for otahil (see device.h for its life). */
#include <stdio.h>

#include "cli.h"
#include "device.h"

int main(int argc, char **argv) {
  /* The console is a pseudo-terminal the harness reads line by line. */
  setvbuf(stdout, NULL, _IOLBF, 0);
  otadev_config cfg;
  char err[512];
  switch (cli_parse(argc, argv, &cfg, err, sizeof err)) {
  case CLI_HELP:
    cli_usage(stdout);
    return 0;
  case CLI_VERSION:
    printf("otadev 0.1.0\n");
    return 0;
  case CLI_USAGE_ERROR:
    fprintf(stderr, "%s\n", err);
    return 2;
  default:
    break;
  }
  return device_run(&cfg);
}
