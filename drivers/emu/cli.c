#include <errno.h>
#include <getopt.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "bugs.h"
#include "cli.h"
#include "dialect.h"
#include "flash.h"

enum {
  OPT_DIALECT = 256, OPT_HOST, OPT_PORT, OPT_PRODUCT, OPT_DEVICE, OPT_STATE, OPT_VERSION,
  OPT_BOOT_MS, OPT_BURN_MS, OPT_DL_TIMEOUT, OPT_RETRIES, OPT_PROGRESS_STEP, OPT_REPORT_INTERVAL,
  OPT_BUG, OPT_HELP, OPT_VERSION_INFO, OPT_CA, OPT_SECRET,
  OPT_MODULE, OPT_PROGRESS_INTERVAL_MS, OPT_BLOCK_SIZE, OPT_BLOCK_TIMEOUT_MS,
  OPT_BATTERY, OPT_SIGNAL, OPT_DISK, OPT_MCU, OPT_MCU_VERSION, OPT_MCU_TTY, OPT_MCU_PEER_TTY, OPT_MCU_EXEC,
};

static const struct option options[] = {
    {"dialect", required_argument, NULL, OPT_DIALECT},
    {"host", required_argument, NULL, OPT_HOST},
    {"ca", required_argument, NULL, OPT_CA},
    {"secret", required_argument, NULL, OPT_SECRET},
    {"port", required_argument, NULL, OPT_PORT},
    {"product", required_argument, NULL, OPT_PRODUCT},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"state", required_argument, NULL, OPT_STATE},
    {"version", required_argument, NULL, OPT_VERSION},
    {"boot-ms", required_argument, NULL, OPT_BOOT_MS},
    {"burn-ms", required_argument, NULL, OPT_BURN_MS},
    {"download-timeout", required_argument, NULL, OPT_DL_TIMEOUT},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"progress-step", required_argument, NULL, OPT_PROGRESS_STEP},
    {"report-interval", required_argument, NULL, OPT_REPORT_INTERVAL},
    {"bug", required_argument, NULL, OPT_BUG},
    {"help", no_argument, NULL, OPT_HELP},
    {"version-info", no_argument, NULL, OPT_VERSION_INFO},
    {"module", required_argument, NULL, OPT_MODULE},
    {"progress-interval-ms", required_argument, NULL, OPT_PROGRESS_INTERVAL_MS},
    {"block-size", required_argument, NULL, OPT_BLOCK_SIZE},
    {"block-timeout-ms", required_argument, NULL, OPT_BLOCK_TIMEOUT_MS},
    {"battery", required_argument, NULL, OPT_BATTERY},
    {"signal", required_argument, NULL, OPT_SIGNAL},
    {"disk", required_argument, NULL, OPT_DISK},
    {"mcu", required_argument, NULL, OPT_MCU},
    {"mcu-version", required_argument, NULL, OPT_MCU_VERSION},
    {"mcu-tty", required_argument, NULL, OPT_MCU_TTY},
    {"mcu-peer-tty", required_argument, NULL, OPT_MCU_PEER_TTY},
    {"mcu-exec", required_argument, NULL, OPT_MCU_EXEC},
    {NULL, 0, NULL, 0},
};

void cli_usage(FILE *f) {
  char dialects[128];
  dialect_names(dialects, sizeof dialects);
  fprintf(f,
          "usage: otadev --dialect D --host H --port P --product PK --device DN --state DIR\n"
          "              [--ca CA.pem] [--secret DEVICE_SECRET] [--version 1.0.0] [--boot-ms 100] [--burn-ms 300]\n"
          "              [--download-timeout 5] [--retries 3] [--progress-step 10]\n"
          "              [--report-interval 0] [--bug NAME]... [--help] [--version-info]\n"
          "              [--module NAME=VERSION]... [--progress-interval-ms 3000]\n"
          "              [--block-size 4096] [--block-timeout-ms 1000]   (aliyun, haas)\n"
          "              [--battery 80] [--signal -70] [--disk 16777216] [--mcu COMP\n"
          "               --mcu-version V --mcu-tty PATH --mcu-peer-tty PATH [--mcu-exec PATH]]\n"
          "                                                              (quecthing)\n"
          "An emulated IoT device: one process, one device; DIR is its flash.\n"
          "dialects: %s\n",
          dialects);
  bugs_help(f);
}

static int parse_long(const char *name, const char *s, long lo, long hi, long *out, char *err,
                      size_t errlen) {
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != 0 || v < lo || v > hi) {
    errmsg(err, errlen, "otadev: --%s '%s' is not an integer in %ld..%ld", name, s, lo, hi);
    return -1;
  }
  *out = v;
  return 0;
}

/* Names end up in MQTT topics: no wildcards, separators or control bytes. */
static int check_name(const char *opt, const char *s, char *err, size_t errlen) {
  size_t n = strlen(s);
  if (n == 0 || n > 64) {
    errmsg(err, errlen, "otadev: --%s must be 1..64 characters", opt);
    return -1;
  }
  for (const char *p = s; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c <= 0x20 || c == 0x7f || c == '/' || c == '+' || c == '#') {
      errmsg(err, errlen, "otadev: --%s '%s' contains a character not allowed in a topic", opt, s);
      return -1;
    }
  }
  return 0;
}

int cli_parse(int argc, char **argv, otadev_config *c, char *err, size_t errlen) {
  memset(c, 0, sizeof *c);
  c->version = "1.0.0";
  c->boot_ms = 100;
  c->burn_ms = 300;
  c->download_timeout = 5;
  c->retries = 3;
  c->progress_step = 10;
  c->report_interval = 0;
  c->port = -1;
  c->progress_interval_ms = 3000;
  c->block_size = 4096;
  c->block_timeout_ms = 1000;
  c->battery = 80;
  c->signal = -70;
  c->disk = 16L << 20;
  c->mcu_version = "1.0.0";
  long v = 0;
  opterr = 0;
  optind = 1;
  int opt;
  while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
    switch (opt) {
    case OPT_DIALECT: c->dialect = optarg; break;
    case OPT_HOST: c->host = optarg; break;
    case OPT_CA:
      if (!*optarg || access(optarg, R_OK) != 0) {
        errmsg(err, errlen, "otadev: --ca '%s': cannot read the CA file", optarg);
        return CLI_USAGE_ERROR;
      }
      c->ca_file = optarg;
      break;
    case OPT_SECRET:
      if (!*optarg) {
        errmsg(err, errlen, "otadev: --secret must not be empty");
        return CLI_USAGE_ERROR;
      }
      c->secret = optarg;
      break;
    case OPT_PORT:
      if (parse_long("port", optarg, 1, 65535, &v, err, errlen)) return CLI_USAGE_ERROR;
      c->port = (int)v;
      break;
    case OPT_PRODUCT: c->product = optarg; break;
    case OPT_DEVICE: c->device = optarg; break;
    case OPT_STATE: c->state = optarg; break;
    case OPT_VERSION: c->version = optarg; break;
    case OPT_BOOT_MS:
      if (parse_long("boot-ms", optarg, 0, 600000, &c->boot_ms, err, errlen)) return CLI_USAGE_ERROR;
      break;
    case OPT_BURN_MS:
      if (parse_long("burn-ms", optarg, 0, 600000, &c->burn_ms, err, errlen)) return CLI_USAGE_ERROR;
      break;
    case OPT_DL_TIMEOUT:
      if (parse_long("download-timeout", optarg, 1, 3600, &c->download_timeout, err, errlen))
        return CLI_USAGE_ERROR;
      break;
    case OPT_RETRIES:
      if (parse_long("retries", optarg, 1, 1000, &v, err, errlen)) return CLI_USAGE_ERROR;
      c->retries = (int)v;
      break;
    case OPT_PROGRESS_STEP:
      if (parse_long("progress-step", optarg, 1, 100, &v, err, errlen)) return CLI_USAGE_ERROR;
      c->progress_step = (int)v;
      break;
    case OPT_REPORT_INTERVAL:
      if (parse_long("report-interval", optarg, 0, 86400, &c->report_interval, err, errlen))
        return CLI_USAGE_ERROR;
      break;
    case OPT_BUG: {
      unsigned bit = bugs_by_name(optarg);
      if (!bit) {
        char names[1024];
        bugs_list(names, sizeof names);
        errmsg(err, errlen, "otadev: unknown --bug '%s' (known: %s)", optarg, names);
        return CLI_USAGE_ERROR;
      }
      c->bugs |= bit;
      break;
    }
    case OPT_MODULE: {
      const char *eq = strchr(optarg, '=');
      if (!eq || eq == optarg || !eq[1] || eq - optarg > 32 || strlen(eq + 1) > FLASH_VERSION_MAX ||
          c->nmodules >= CLI_MODULES_MAX) {
        errmsg(err, errlen, "otadev: --module '%s' is not NAME=VERSION (name 1..32, at most %d modules)",
               optarg, CLI_MODULES_MAX);
        return CLI_USAGE_ERROR;
      }
      c->modules[c->nmodules++] = optarg;
      break;
    }
    case OPT_PROGRESS_INTERVAL_MS:
      if (parse_long("progress-interval-ms", optarg, 0, 600000, &c->progress_interval_ms, err, errlen))
        return CLI_USAGE_ERROR;
      break;
    case OPT_BLOCK_SIZE:
      if (parse_long("block-size", optarg, 256, 131072, &c->block_size, err, errlen)) return CLI_USAGE_ERROR;
      break;
    case OPT_BLOCK_TIMEOUT_MS:
      if (parse_long("block-timeout-ms", optarg, 10, 600000, &c->block_timeout_ms, err, errlen))
        return CLI_USAGE_ERROR;
      break;
    case OPT_BATTERY:
      if (parse_long("battery", optarg, 0, 100, &c->battery, err, errlen)) return CLI_USAGE_ERROR;
      break;
    case OPT_SIGNAL:
      if (parse_long("signal", optarg, -200, 0, &c->signal, err, errlen)) return CLI_USAGE_ERROR;
      break;
    case OPT_DISK:
      if (parse_long("disk", optarg, 0, 1L << 40, &c->disk, err, errlen)) return CLI_USAGE_ERROR;
      break;
    case OPT_MCU:
      if (check_name("mcu", optarg, err, errlen) || strlen(optarg) > 32) {
        errmsg(err, errlen, "otadev: --mcu '%s' must be a component id of 1..32 characters", optarg);
        return CLI_USAGE_ERROR;
      }
      c->mcu = optarg;
      break;
    case OPT_MCU_VERSION:
      if (!*optarg || strlen(optarg) > FLASH_VERSION_MAX) {
        errmsg(err, errlen, "otadev: --mcu-version must be 1..%u characters", FLASH_VERSION_MAX);
        return CLI_USAGE_ERROR;
      }
      c->mcu_version = optarg;
      break;
    case OPT_MCU_TTY: c->mcu_tty = optarg; break;
    case OPT_MCU_PEER_TTY: c->mcu_peer_tty = optarg; break;
    case OPT_MCU_EXEC: c->mcu_exec = optarg; break;
    case OPT_HELP: return CLI_HELP;
    case OPT_VERSION_INFO: return CLI_VERSION;
    default:
      if (optopt)
        errmsg(err, errlen, "otadev: option '%s' needs a value (see --help)",
                 argv[optind - 1]);
      else
        errmsg(err, errlen, "otadev: unknown option '%s' (see --help)", argv[optind - 1]);
      return CLI_USAGE_ERROR;
    }
  }
  if (optind < argc) {
    errmsg(err, errlen, "otadev: unexpected argument '%s' (see --help)", argv[optind]);
    return CLI_USAGE_ERROR;
  }
  const char *missing = !c->dialect ? "--dialect" : !c->host ? "--host" : c->port < 0 ? "--port"
                      : !c->product ? "--product" : !c->device ? "--device" : !c->state ? "--state"
                                                                                          : NULL;
  if (missing) {
    errmsg(err, errlen, "otadev: %s is required (see --help)", missing);
    return CLI_USAGE_ERROR;
  }
  if (!dialect_find(c->dialect)) {
    char names[128];
    dialect_names(names, sizeof names);
    errmsg(err, errlen, "otadev: unknown --dialect '%s' (known: %s)", c->dialect, names);
    return CLI_USAGE_ERROR;
  }
  if (!*c->host || !*c->state) {
    errmsg(err, errlen, "otadev: --host and --state must not be empty");
    return CLI_USAGE_ERROR;
  }
  if (check_name("product", c->product, err, errlen) || check_name("device", c->device, err, errlen))
    return CLI_USAGE_ERROR;
  if (!*c->version || strlen(c->version) > FLASH_VERSION_MAX) {
    errmsg(err, errlen, "otadev: --version must be 1..%u characters", FLASH_VERSION_MAX);
    return CLI_USAGE_ERROR;
  }
  return CLI_RUN;
}
