/* otahil: the command line. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fwimage.h"
#ifdef OTAHIL_HAVE_NETEM
#include "netem_cli.h"
#endif
#include "runner.h"
#include "tls_pki_cli.h"
#include "signals.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: otahil run PATH... --lab FILE --report DIR [--filter GLOB]... [--exclude GLOB]...\n"
          "                  [--tag T]... [--exclude-tag T]... [--repeat N [--until-fail]] [--retries N]\n"
          "                  [--broker mqtt[s]://host:port [--broker-ca FILE]] [--seed N] [--timeout-multiplier X] [-j N] [--shard I/N]\n"
          "                  [--lib DIR]...\n"
          "       otahil list PATH... [--filter GLOB]... [--exclude GLOB]... [--tag T]... [--exclude-tag T]...\n"
          "       otahil fw build --version V --size N [--fail-boot|--fail-burn] -o FILE\n"
          "       otahil netem --listen 127.0.0.1:PORT --upstream HOST:PORT [--http|--mqtt] --fault SPEC...\n"
          "       otahil tls ca --out DIR | otahil tls certs --out DIR NAME...\n"
          "       otahil --help | --version\n"
          "\n"
          "run      runs the scenarios (files, or folders of them) against the lab's devices;\n"
          "         each scenario runs once per device of its dialect (case id suite/file@device).\n"
          "  --lab FILE              the lab file (devices, power, console, images, timing)\n"
          "  --report DIR            where junit.xml, report.json, report.html and logs/ go\n"
          "  --filter GLOB           only cases whose id matches, e.g. 'qcloud/0*' (several: any)\n"
          "  --exclude GLOB          not the cases whose id matches (several: any)\n"
          "  --tag T                 only scenarios with the tag T (tags = {...}; several: any)\n"
          "  --exclude-tag T         not the scenarios with the tag T\n"
          "  --repeat N              every case N times, each with its own seed (#i,seed=S in its id)\n"
          "  --until-fail            with --repeat: start no case after the first that did not pass\n"
          "  --retries N             run a case again after an ERROR (harness, lab, rack), up to N\n"
          "                          times; never after a FAIL or TIMEOUT of the device\n"
          "  --broker mqtt://H:P     use this broker instead of starting mosquitto\n"
          "  --broker mqtts://H:P    ... over TLS (the cloud's clients and the device proxies' side\n"
          "                          towards it), verifying its certificate and name\n"
          "  --broker-ca FILE        the CA (PEM) the mqtts broker's certificate must chain to\n"
          "                          (default: the system's CAs)\n"
          "  --seed N                seed of every random fault (recorded in the report)\n"
          "  --timeout-multiplier X  scale every deadline and wait (slow machines, sanitizers)\n"
          "  -j N                    run up to N cases at once (on different devices)\n"
          "  -v, --verbose           print every event of every case as it comes (prefixed: case id)\n"
          "  --shard I/N             run only part I of N (cases dealt round-robin after --filter),\n"
          "                          so N machines share a suite\n"
          "  --lib DIR               a folder of the lab's own Lua modules for require, after\n"
          "                          scenarios/lib (several: in order; none may shadow a standard one)\n"
          "list     prints the scenarios and their names without running anything\n"
          "fw build makes an image that the emulator otadev understands\n"
          "netem    runs the fault-injection proxy alone (see otahil netem --help)\n"
          "tls      writes the test CA (ca.pem, to flash into a board) and its server certificates\n"
          "\n"
          "exit status: 0 all passed, 1 a scenario failed, errored or timed out,\n"
          "             2 usage, lab or scenario error found before running, 3 internal error\n");
}

/* The folder that holds scenarios/lib: $OTAHIL_ROOT, the current folder, or the
 * source tree the binary was built from. */
static const char *find_root(void) {
  const char *env = getenv("OTAHIL_ROOT");
  if (env && *env) return env;
  struct stat st;
  if (stat("scenarios/lib", &st) == 0 && S_ISDIR(st.st_mode)) return ".";
  return OTAHIL_SOURCE_DIR;
}

static void find_bindir(char *out, size_t len) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    snprintf(out, len, ".");
    return;
  }
  exe[n] = 0;
  snprintf(out, len, "%s", dirname(exe));
}

static int parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(v)) return -1; /* strtod takes "nan" and "inf" */
  *out = v;
  return 0;
}

static int parse_u64(const char *s, unsigned long long *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end || s[0] == '-') return -1;
  *out = v;
  return 0;
}

/* "I/N" with 1 <= I <= N <= 1000. */
static int parse_shard(const char *s, int *index, int *count) {
  char *end = NULL;
  errno = 0;
  long i = strtol(s, &end, 10);
  if (errno || end == s || *end != '/') return -1;
  const char *n_s = end + 1;
  long n = strtol(n_s, &end, 10);
  if (errno || end == n_s || *end || n < 1 || n > 1000 || i < 1 || i > n) return -1;
  *index = (int)i;
  *count = (int)n;
  return 0;
}

/* One numeric option of otahil run into `o`: 0, or -1 after saying what is wrong. */
static int number_opt(int c, const char *arg, runner_opts *o) {
  unsigned long long u;
  const char *want = NULL, *name = NULL;
  switch (c) {
  case 'R': case 'T':
    name = c == 'R' ? "--repeat" : "--retries", want = c == 'R' ? "1..100000" : "0..100000";
    if (parse_u64(arg, &u) == 0 && u <= 100000 && (c == 'T' || u >= 1)) {
      *(c == 'R' ? &o->repeat : &o->retries) = (int)u;
      return 0;
    }
    break;
  case 's':
    name = "--seed", want = "a whole number";
    if (parse_u64(arg, &u) == 0) return o->seed = u, 0;
    break;
  case 't':
    name = "--timeout-multiplier", want = "a number > 0 and <= 1000";
    if (parse_double(arg, &o->timeout_multiplier) == 0 && o->timeout_multiplier > 0 && o->timeout_multiplier <= 1000)
      return 0;
    break;
  case 'j':
    name = "-j", want = "1..64";
    if (parse_u64(arg, &u) == 0 && u >= 1 && u <= 64) return o->jobs = (int)u, 0;
    break;
  case 'S':
    name = "--shard", want = "I/N with 1 <= I <= N, e.g. 2/4";
    if (parse_shard(arg, &o->shard_index, &o->shard_count) == 0) return 0;
    break;
  }
  fprintf(stderr, "otahil: %s '%s': expected %s\n", name ? name : "option", arg, want ? want : "a value");
  return -1;
}

/* otahil run / list's options into `o` (its lists stay the caller's to free).
 * Returns -1 to go on, else the exit code (usage, --help). */
static int parse_run(int argc, char **argv, runner_opts *o) {
  static const struct option opts[] = {
      {"lab", required_argument, 0, 'l'},         {"report", required_argument, 0, 'r'},
      {"filter", required_argument, 0, 'f'},      {"exclude", required_argument, 0, 'x'},
      {"tag", required_argument, 0, 'g'},         {"exclude-tag", required_argument, 0, 'G'},
      {"repeat", required_argument, 0, 'R'},      {"until-fail", no_argument, 0, 'U'},
      {"retries", required_argument, 0, 'T'},     {"broker", required_argument, 0, 'b'},
      {"broker-ca", required_argument, 0, 'A'},
      {"seed", required_argument, 0, 's'},        {"timeout-multiplier", required_argument, 0, 't'},
      {"jobs", required_argument, 0, 'j'},        {"shard", required_argument, 0, 'S'},
      {"verbose", no_argument, 0, 'v'},           {"help", no_argument, 0, 'h'},
      {"lib", required_argument, 0, 'L'},         {0, 0, 0, 0}};
  o->timeout_multiplier = 1;
  o->jobs = 1;
  o->seed = (uint64_t)time(NULL) ^ (uint64_t)getpid();
  selection *sel = &o->sel;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "j:hv", opts, NULL)) != -1) {
    switch (c) {
    case 'l': o->lab_file = optarg; break;
    case 'r': o->report_dir = optarg; break;
    case 'f': select_add(&sel->filters, &sel->nfilters, optarg); break;
    case 'x': select_add(&sel->excludes, &sel->nexcludes, optarg); break;
    case 'g': select_add(&sel->tags, &sel->ntags, optarg); break;
    case 'G': select_add(&sel->exclude_tags, &sel->nexclude_tags, optarg); break;
    case 'U': o->until_fail = 1; break;
    case 'v': o->verbose = 1; break;
    case 'b': o->broker_url = optarg; break;
    case 'A': o->broker_ca = optarg; break;
    case 'L': /* repeatable: the lab's own library folders, searched after scenarios/lib */
      o->libs = realloc(o->libs, (size_t)(o->nlibs + 1) * sizeof *o->libs);
      if (!o->libs) abort();
      o->libs[o->nlibs++] = optarg;
      break;
    case 'R': case 'T': case 's': case 't': case 'j': case 'S':
      if (number_opt(c, optarg, o) != 0) return EXIT_USAGE;
      break;
    case 'h': usage(stdout); return EXIT_PASS;
    default: usage(stderr); return EXIT_USAGE;
    }
  }
  o->paths = argv + optind;
  o->npaths = argc - optind;
  if (o->npaths == 0) {
    fprintf(stderr, "otahil: %s: name at least one scenario file or folder\n", argv[0]);
    return EXIT_USAGE;
  }
  return -1;
}

/* otahil run / list, with `o` (its lists) owned by the caller. */
static int cmd_run_with(int argc, char **argv, int list_only, runner_opts *o) {
  int code = parse_run(argc, argv, o);
  if (code >= 0) return code;
  o->root = find_root();
  if (list_only) {
    char *libs[65] = {0}; /* NULL-terminated for rt_libs */
    for (int i = 0; i < o->nlibs && i < 64; i++) libs[i] = o->libs[i];
    return runner_list(o->paths, o->npaths, o->root, &o->sel, (const char *const *)libs);
  }
  if (!o->lab_file || !o->report_dir) {
    fprintf(stderr, "otahil: run: --lab FILE and --report DIR are required\n");
    return EXIT_USAGE;
  }
  char bindir[PATH_MAX];
  find_bindir(bindir, sizeof bindir);
  o->bindir = bindir;
  return runner_run(o);
}

static int cmd_run(int argc, char **argv, int list_only) {
  runner_opts o = {0};
  int rc = cmd_run_with(argc, argv, list_only, &o);
  select_free(&o.sel);
  free(o.libs);
  return rc;
}

static int cmd_fw(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "build") != 0) {
    fprintf(stderr, "otahil: fw: expected 'fw build --version V --size N [--fail-boot|--fail-burn] -o FILE'\n");
    return EXIT_USAGE;
  }
  static const struct option opts[] = {{"version", required_argument, 0, 'v'},
                                       {"size", required_argument, 0, 's'},
                                       {"fail-boot", no_argument, 0, 'B'},
                                       {"fail-burn", no_argument, 0, 'U'},
                                       {"output", required_argument, 0, 'o'},
                                       {0, 0, 0, 0}};
  const char *version = NULL, *out = NULL;
  unsigned long long size = 262144;
  uint32_t flags = 0;
  int c;
  optind = 1;
  while ((c = getopt_long(argc - 1, argv + 1, "o:", opts, NULL)) != -1) {
    switch (c) {
    case 'v': version = optarg; break;
    case 's':
      if (parse_u64(optarg, &size) != 0) {
        fprintf(stderr, "otahil: fw build: --size '%s': expected a number of bytes\n", optarg);
        return EXIT_USAGE;
      }
      break;
    case 'B': flags |= FWIMAGE_FAIL_BOOT; break;
    case 'U': flags |= FWIMAGE_FAIL_BURN; break;
    case 'o': out = optarg; break;
    default: return EXIT_USAGE;
    }
  }
  if (!version || !out) {
    fprintf(stderr, "otahil: fw build: --version and -o are required\n");
    return EXIT_USAGE;
  }
  char err[512];
  if (fwimage_build(out, version, size, flags, err, sizeof err) != 0) {
    fprintf(stderr, "otahil: %s\n", err);
    return EXIT_USAGE;
  }
  printf("%s: version %s, %llu bytes%s%s\n", out, version, size,
         flags & FWIMAGE_FAIL_BOOT ? ", fails to boot" : "",
         flags & FWIMAGE_FAIL_BURN ? ", rejected at burn" : "");
  return EXIT_PASS;
}

/* Before main, as soon as the program is loaded: a SIGINT or SIGTERM in a
 * run's first milliseconds is recorded for the runner (signals.h), not the
 * default exit 130/143. Other commands keep the default (main undoes it).
 * In .preinit_array: it runs before the libraries' own initializers, which
 * take ~20 ms here (gnutls, p11-kit), a window a constructor would leave open. */
static void early_signals(void) {
  signals_install();
  /* the launcher (launcher.c) blocked them until now: what came meanwhile is recorded */
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  sigprocmask(SIG_UNBLOCK, &s, NULL);
}
__attribute__((section(".preinit_array"), used)) static void (*const early_signals_at_load)(void) = early_signals;

int main(int argc, char **argv) {
  /* first: a Ctrl-C in the first milliseconds of a run is the runner's to
   * handle (whole reports, exit 1), not an exit 130 */
  if (!(argc > 1 && strcmp(argv[1], "run") == 0)) {
    int early = signals_take();
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (early) raise(early);
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  /* A peer that closed its socket must be an EPIPE on that connection, not the
   * end of the run (libuv writes with write(2); netem splices). Children get
   * the default back: uv_spawn resets every signal in the child. */
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    usage(stdout);
    return EXIT_PASS;
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("otahil %s\n", OTAHIL_VERSION);
    return EXIT_PASS;
  }
  if (strcmp(cmd, "fw") == 0) return cmd_fw(argc - 1, argv + 1);
  if (strcmp(cmd, "tls") == 0) return tls_pki_cli_main(argc - 1, argv + 1);
#ifdef OTAHIL_HAVE_NETEM
  if (strcmp(cmd, "netem") == 0) return netem_cli_main(argc - 1, argv + 1);
#endif
  if (strcmp(cmd, "run") == 0 || strcmp(cmd, "list") == 0) {
    mosquitto_lib_init();
    int rc = cmd_run(argc - 1, argv + 1, strcmp(cmd, "list") == 0);
    mosquitto_lib_cleanup();
    return rc;
  }
  fprintf(stderr, "otahil: unknown command '%s' (run, list, fw, netem, tls; see --help)\n", cmd);
  return EXIT_USAGE;
}
