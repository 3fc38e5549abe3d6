#include <errno.h>
#include <stddef.h>
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
  OPT_BUG, OPT_HELP, OPT_VERSION_INFO, OPT_CA, OPT_SECRET, OPT_SIGN_LIFETIME,
  OPT_MODULE, OPT_PROGRESS_INTERVAL_MS, OPT_BLOCK_SIZE, OPT_BLOCK_TIMEOUT_MS,
  OPT_BATTERY, OPT_SIGNAL, OPT_DISK, OPT_MCU, OPT_MCU_VERSION, OPT_MCU_TTY, OPT_MCU_PEER_TTY, OPT_MCU_EXEC,
};

static const struct option options[] = {
    {"dialect", required_argument, NULL, OPT_DIALECT},
    {"host", required_argument, NULL, OPT_HOST},
    {"ca", required_argument, NULL, OPT_CA},
    {"secret", required_argument, NULL, OPT_SECRET},
    {"sign-lifetime", required_argument, NULL, OPT_SIGN_LIFETIME},
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
          "              [--ca CA.pem] [--secret DEVICE_SECRET [--sign-lifetime 3600]] [--version 1.0.0]\n"
          "              [--boot-ms 100] [--burn-ms 300]\n"
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

static void defaults(otadev_config *c) {
  memset(c, 0, sizeof *c);
  c->version = "1.0.0";
  c->boot_ms = 100;
  c->burn_ms = 300;
  c->download_timeout = 5;
  c->retries = 3;
  c->sign_lifetime = 3600; /* an hour: signed afresh at every CONNECT anyway */
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
}

/* The numeric options: name, range, and the field (an int or a long). */
static const struct number_opt {
  int opt;
  const char *name;
  long lo, hi;
  size_t off;
  int is_int;
} numbers[] = {
    {OPT_PORT, "port", 1, 65535, offsetof(otadev_config, port), 1},
    {OPT_BOOT_MS, "boot-ms", 0, 600000, offsetof(otadev_config, boot_ms), 0},
    {OPT_BURN_MS, "burn-ms", 0, 600000, offsetof(otadev_config, burn_ms), 0},
    {OPT_DL_TIMEOUT, "download-timeout", 1, 3600, offsetof(otadev_config, download_timeout), 0},
    {OPT_RETRIES, "retries", 1, 1000, offsetof(otadev_config, retries), 1},
    {OPT_PROGRESS_STEP, "progress-step", 1, 100, offsetof(otadev_config, progress_step), 1},
    {OPT_REPORT_INTERVAL, "report-interval", 0, 86400, offsetof(otadev_config, report_interval), 0},
    {OPT_PROGRESS_INTERVAL_MS, "progress-interval-ms", 0, 600000, offsetof(otadev_config, progress_interval_ms), 0},
    {OPT_BLOCK_SIZE, "block-size", 256, 131072, offsetof(otadev_config, block_size), 0},
    {OPT_BLOCK_TIMEOUT_MS, "block-timeout-ms", 10, 600000, offsetof(otadev_config, block_timeout_ms), 0},
    {OPT_BATTERY, "battery", 0, 100, offsetof(otadev_config, battery), 0},
    {OPT_SIGNAL, "signal", -200, 0, offsetof(otadev_config, signal), 0},
    {OPT_DISK, "disk", 0, 1L << 40, offsetof(otadev_config, disk), 0},
    {OPT_SIGN_LIFETIME, "sign-lifetime", 1, 1L << 31, offsetof(otadev_config, sign_lifetime), 0},
};

/* A numeric option: 1 taken, 0 not one, -1 out of range (err set). */
static int take_number(int opt, otadev_config *c, char *err, size_t errlen) {
  for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
    const struct number_opt *n = &numbers[i];
    if (n->opt != opt) continue;
    long v;
    if (parse_long(n->name, optarg, n->lo, n->hi, &v, err, errlen)) return -1;
    if (n->is_int) *(int *)((char *)c + n->off) = (int)v;
    else *(long *)((char *)c + n->off) = v;
    return 1;
  }
  return 0;
}

/* An option whose value is checked by hand: 0, or -1 with err. */
static int take_checked(int opt, otadev_config *c, char *err, size_t errlen) {
  switch (opt) {
  case OPT_CA:
    if (!*optarg || access(optarg, R_OK) != 0) return errmsg(err, errlen, "otadev: --ca '%s': cannot read the CA file", optarg), -1;
    c->ca_file = optarg;
    return 0;
  case OPT_SECRET:
    if (!*optarg) return errmsg(err, errlen, "otadev: --secret must not be empty"), -1;
    c->secret = optarg;
    return 0;
  case OPT_BUG: {
    unsigned bit = bugs_by_name(optarg);
    if (!bit) {
      char names[1024];
      bugs_list(names, sizeof names);
      return errmsg(err, errlen, "otadev: unknown --bug '%s' (known: %s)", optarg, names), -1;
    }
    c->bugs |= bit;
    return 0;
  }
  case OPT_MODULE: {
    const char *eq = strchr(optarg, '=');
    if (!eq || eq == optarg || !eq[1] || eq - optarg > 32 || strlen(eq + 1) > FLASH_VERSION_MAX ||
        c->nmodules >= CLI_MODULES_MAX)
      return errmsg(err, errlen, "otadev: --module '%s' is not NAME=VERSION (name 1..32, at most %d modules)",
                    optarg, CLI_MODULES_MAX), -1;
    c->modules[c->nmodules++] = optarg;
    return 0;
  }
  case OPT_MCU:
    if (check_name("mcu", optarg, err, errlen) || strlen(optarg) > 32)
      return errmsg(err, errlen, "otadev: --mcu '%s' must be a component id of 1..32 characters", optarg), -1;
    c->mcu = optarg;
    return 0;
  case OPT_MCU_VERSION:
    if (!*optarg || strlen(optarg) > FLASH_VERSION_MAX)
      return errmsg(err, errlen, "otadev: --mcu-version must be 1..%u characters", FLASH_VERSION_MAX), -1;
    c->mcu_version = optarg;
    return 0;
  }
  return 1; /* not one of these */
}

/* A string option taken as it is: 1, or 0 when `opt` is not one. */
static int take_string(int opt, otadev_config *c) {
  const char **field = opt == OPT_DIALECT ? &c->dialect : opt == OPT_HOST ? &c->host : opt == OPT_PRODUCT ? &c->product
                     : opt == OPT_DEVICE ? &c->device : opt == OPT_STATE ? &c->state : opt == OPT_VERSION ? &c->version
                     : opt == OPT_MCU_TTY ? &c->mcu_tty : opt == OPT_MCU_PEER_TTY ? &c->mcu_peer_tty
                     : opt == OPT_MCU_EXEC ? &c->mcu_exec : NULL;
  if (field) *field = optarg;
  return field != NULL;
}

/* What a run needs, once every option is read: 0, or -1 with err. */
static int check_config(const otadev_config *c, char *err, size_t errlen) {
  const char *missing = !c->dialect ? "--dialect" : !c->host ? "--host" : c->port < 0 ? "--port"
                      : !c->product ? "--product" : !c->device ? "--device" : !c->state ? "--state"
                                                                                          : NULL;
  if (missing) return errmsg(err, errlen, "otadev: %s is required (see --help)", missing), -1;
  if (!dialect_find(c->dialect)) {
    char names[128];
    dialect_names(names, sizeof names);
    return errmsg(err, errlen, "otadev: unknown --dialect '%s' (known: %s)", c->dialect, names), -1;
  }
  if (!*c->host || !*c->state) return errmsg(err, errlen, "otadev: --host and --state must not be empty"), -1;
  if (check_name("product", c->product, err, errlen) || check_name("device", c->device, err, errlen)) return -1;
  if (!*c->version || strlen(c->version) > FLASH_VERSION_MAX)
    return errmsg(err, errlen, "otadev: --version must be 1..%u characters", FLASH_VERSION_MAX), -1;
  return 0;
}

int cli_parse(int argc, char **argv, otadev_config *c, char *err, size_t errlen) {
  defaults(c);
  opterr = 0;
  optind = 1;
  int opt;
  while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
    if (opt == OPT_HELP) return CLI_HELP;
    if (opt == OPT_VERSION_INFO) return CLI_VERSION;
    if (take_string(opt, c)) continue;
    int r = take_number(opt, c, err, errlen);
    if (r < 0) return CLI_USAGE_ERROR;
    if (r > 0) continue;
    r = take_checked(opt, c, err, errlen);
    if (r < 0) return CLI_USAGE_ERROR;
    if (r == 0) continue;
    if (optopt) errmsg(err, errlen, "otadev: option '%s' needs a value (see --help)", argv[optind - 1]);
    else errmsg(err, errlen, "otadev: unknown option '%s' (see --help)", argv[optind - 1]);
    return CLI_USAGE_ERROR;
  }
  if (optind < argc) {
    errmsg(err, errlen, "otadev: unexpected argument '%s' (see --help)", argv[optind]);
    return CLI_USAGE_ERROR;
  }
  return check_config(c, err, errlen) ? CLI_USAGE_ERROR : CLI_RUN;
}
