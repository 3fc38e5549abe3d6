/* netem_cli: the standalone proxy command (see netem_cli.h). */
#include "netem_cli.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "login_policy.h"
#include "netem.h"

#define MAX_FAULTS 64

struct cli {
  uv_loop_t *loop;
  netem_proxy *proxy;
  login_policy *lp; /* --login-hold / --login-refuse, or NULL */
  uv_signal_t sigint, sigterm;
  int quiet;
  uint64_t t0;
};

static void usage(FILE *out) {
  fprintf(out,
          "usage: otahil netem --listen HOST:PORT --upstream HOST:PORT [--http|--mqtt]\n"
          "                    [--fault SPEC]... [--seed N] [--progress BYTES] [--quiet] [--no-splice]\n"
          "                    [--tls-cert FILE --tls-key FILE [--tls-handshake stall|fin|rst]]\n"
          "                    [--upstream-tls | --upstream-ca FILE]\n"
          "                    [--login-hold MS] [--login-refuse bad-credentials|not-authorized|CODE]\n"
          "\n"
          "Runs the fault-injecting proxy alone: point a device at --listen; every connection\n"
          "is forwarded to --upstream with the faults applied. Events are printed one per line.\n"
          "  --listen HOST:PORT    numeric address to listen on (PORT 0: a free port, printed)\n"
          "  --upstream HOST:PORT  where to forward ([::1]:PORT for IPv6)\n"
          "  --http | --mqtt       protocol view: HTTP body offsets / MQTT PUBLISH topics\n"
          "  --fault SPEC          a fault (repeatable; more SPECs may follow one --fault)\n"
          "  --seed N              seed for all randomness (default: from the clock; printed)\n"
          "  --progress BYTES      print body progress every BYTES delivered (--http)\n"
          "  --quiet               print only the listening line and faults applied\n"
          "  --no-splice           always copy through user space (by default, while no fault\n"
          "                        is set, bodies and raw streams go socket to socket with splice)\n"
          "  --tls-cert FILE       terminate TLS from clients with this PEM certificate (chain);\n"
          "  --tls-key FILE        and key (the upstream gets plaintext; faults see plaintext)\n"
          "  --tls-handshake MODE  a TLS fault: stall every handshake, or close at the ClientHello\n"
          "  --upstream-tls        the upstream speaks TLS (e.g. a broker's mqtts listener): the proxy\n"
          "                        is its client, verifying its certificate with the system's CAs\n"
          "  --upstream-ca FILE    the same, verifying it against this CA (PEM); a connection whose\n"
          "                        upstream fails verification is closed, and the event says why\n"
          "  --login-hold MS       (--mqtt) hold each client's CONNECT MS ms (the broker sees nothing\n"
          "                        meanwhile), then forward it unchanged; 'login' events show each\n"
          "  --login-refuse WHAT   (--mqtt) answer each CONNECT (after --login-hold, if given) with a\n"
          "                        refusing CONNACK and close: bad-credentials (3.1.1: 4, MQTT 5: 0x86),\n"
          "                        not-authorized (5, 0x87), or that CODE exactly (1..255)\n"
          "\n%s",
          netem_fault_help());
}

static int split_hostport(const char *s, char *host, size_t hostsize, int *port) {
  const char *colon;
  const char *h = s;
  size_t hl;
  if (s[0] == '[') {
    const char *rb = strchr(s, ']');
    if (!rb || rb[1] != ':') return -1;
    h = s + 1;
    hl = (size_t)(rb - h);
    colon = rb + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon) return -1;
    hl = (size_t)(colon - s);
  }
  if (hl == 0 || hl >= hostsize) return -1;
  memcpy(host, h, hl);
  host[hl] = 0;
  char *end;
  errno = 0;
  long v = strtol(colon + 1, &end, 10);
  if (errno || end == colon + 1 || *end || v < 0 || v > 65535) return -1;
  *port = (int)v;
  return 0;
}

static void on_event(const struct netem_event *ev, void *user) {
  struct cli *cli = user;
  login_policy_event(cli->lp, ev); /* an MQTT_LOGIN: its decision is scheduled */
  if (cli->quiet && ev->kind != NETEM_EV_FAULT && ev->kind != NETEM_EV_FRAMING_ERROR &&
      ev->kind != NETEM_EV_MQTT_LOGIN && ev->kind != NETEM_EV_MQTT_LOGIN_DONE)
    return;
  char line[1024];
  double t = (double)(uv_hrtime() - cli->t0) / 1e9;
  printf("%10.6f %s\n", t, netem_event_format(ev, line, sizeof line));
  fflush(stdout);
}

static void on_signal(uv_signal_t *s, int signum) {
  struct cli *cli = s->data;
  (void)signum;
  login_policy_close(cli->lp);
  cli->lp = NULL;
  if (cli->proxy) {
    netem_proxy_close(cli->proxy, NULL, NULL);
    cli->proxy = NULL;
  }
  uv_close((uv_handle_t *)&cli->sigint, NULL);
  uv_close((uv_handle_t *)&cli->sigterm, NULL);
}

/* The command line, parsed. */
struct args {
  struct netem_proxy_opts o;
  char lhost[128], uhost[256];
  const char *faults[MAX_FAULTS];
  int nfaults, have_seed, quiet, tls_hs;
  int login;                        /* --login-hold or --login-refuse given */
  uint64_t login_hold_ms;
  enum login_policy_answer answer;
  int code;
};

/* Says why on stderr (one line); -1. */
__attribute__((format(printf, 1, 2))) static int bad(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return -1;
}

/* "--fault SPEC...": the SPECs until the next option; *i moves past them. */
static int take_faults(struct args *a, int argc, char **argv, int *i) {
  if (*i + 1 >= argc || strncmp(argv[*i + 1], "--", 2) == 0) return bad("netem: --fault needs a SPEC (see --help)");
  while (*i + 1 < argc && strncmp(argv[*i + 1], "--", 2) != 0) {
    if (a->nfaults == MAX_FAULTS) return bad("netem: more than %d faults", MAX_FAULTS);
    a->faults[a->nfaults++] = argv[++*i];
  }
  return 0;
}

/* --seed N / --progress BYTES. */
static int take_number(struct args *a, const char *opt, const char *val) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(val, &end, 0);
  if (errno || end == val || *end || val[0] == '-') {
    fprintf(stderr, "netem: %s '%s': want a number\n", opt, val);
    return -1;
  }
  if (opt[2] == 's') a->o.seed = v, a->have_seed = 1;
  else if (opt[2] == 'l') a->login_hold_ms = v, a->login = 1;
  else a->o.progress_step = v;
  return 0;
}

static int take_tls_handshake(struct args *a, const char *val) {
  a->tls_hs = strcmp(val, "stall") == 0 ? NETEM_TLS_HS_STALL : strcmp(val, "fin") == 0 ? NETEM_TLS_HS_FIN
              : strcmp(val, "rst") == 0 ? NETEM_TLS_HS_RST : -1;
  return a->tls_hs < 0 ? bad("netem: --tls-handshake '%s': want stall, fin or rst", val) : 0;
}

/* One option at argv[*i] (with its value, *i moved past it): 0, -1 (said
 * why), 1 (--help printed). */
static int take_option(struct args *a, int argc, char **argv, int *i) {
  const char *opt = argv[*i], *val = *i + 1 < argc ? argv[*i + 1] : NULL;
  struct netem_proxy_opts *o = &a->o;
  if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) return usage(stdout), 1;
  if (strcmp(opt, "--http") == 0) return o->view = NETEM_VIEW_HTTP, 0;
  if (strcmp(opt, "--mqtt") == 0) return o->view = NETEM_VIEW_MQTT, 0;
  if (strcmp(opt, "--quiet") == 0) return a->quiet = 1, 0;
  if (strcmp(opt, "--no-splice") == 0) return o->no_splice = 1, 0;
  if (strcmp(opt, "--upstream-tls") == 0) return o->upstream_tls = 1, 0;
  if (strcmp(opt, "--fault") == 0) return take_faults(a, argc, argv, i);
  if (!val) return bad("netem: unknown or incomplete option '%s' (see --help)", opt);
  ++*i;
  if (strcmp(opt, "--listen") == 0)
    return split_hostport(val, a->lhost, sizeof a->lhost, &o->listen_port) ? bad("netem: --listen '%s': want HOST:PORT", val) : 0;
  if (strcmp(opt, "--upstream") == 0)
    return split_hostport(val, a->uhost, sizeof a->uhost, &o->upstream_port) || o->upstream_port == 0
               ? bad("netem: --upstream '%s': want HOST:PORT", val) : 0;
  if (strcmp(opt, "--tls-cert") == 0) return o->tls_cert = val, 0;
  if (strcmp(opt, "--tls-key") == 0) return o->tls_key = val, 0;
  if (strcmp(opt, "--upstream-ca") == 0) return o->upstream_tls = 1, o->upstream_ca = val, 0;
  if (strcmp(opt, "--tls-handshake") == 0) return take_tls_handshake(a, val);
  if (strcmp(opt, "--seed") == 0 || strcmp(opt, "--progress") == 0 || strcmp(opt, "--login-hold") == 0)
    return take_number(a, opt, val);
  if (strcmp(opt, "--login-refuse") == 0)
    return a->login = 1, login_policy_parse_refuse(val, &a->answer, &a->code)
                             ? bad("netem: --login-refuse '%s': want bad-credentials, not-authorized or a code 1..255", val)
                             : 0;
  return bad("netem: unknown or incomplete option '%s' (see --help)", opt);
}

/* The whole command line: 0, -1 (said why), 1 (--help printed). */
static int parse_args(struct args *a, int argc, char **argv, struct netem_fault *parsed) {
  memset(a, 0, sizeof *a);
  a->o.view = NETEM_VIEW_RAW;
  a->tls_hs = NETEM_TLS_HS_OK;
  for (int i = 1; i < argc; i++) {
    int r = take_option(a, argc, argv, &i);
    if (r) return r;
  }
  if (!a->o.tls_cert != !a->o.tls_key || (a->tls_hs && !a->o.tls_cert))
    return bad("netem: --tls-cert and --tls-key go together (and --tls-handshake needs them)");
  if (!a->lhost[0] || !a->uhost[0]) return bad("netem: --listen and --upstream are required (see --help)");
  if (a->login && a->o.view != NETEM_VIEW_MQTT) return bad("netem: --login-hold and --login-refuse need --mqtt");
  if (a->login) { /* the proxy's own timeout only as a backstop, after the hold */
    a->o.login_hold = 1;
    a->o.login_timeout_ms = a->login_hold_ms + 5000;
  }
  char err[256];
  for (int i = 0; i < a->nfaults; i++) {
    if (netem_fault_parse(a->faults[i], &parsed[i], err, sizeof err)) {
      fprintf(stderr, "netem: --fault %s: %s\n", a->faults[i], err);
      return -1;
    }
  }
  if (!a->have_seed) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    a->o.seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec;
  }
  return 0;
}

/* Ends a run whose proxy failed to open or to take a fault: exit 2. */
static int give_up(struct cli *cli, const char *err) {
  fprintf(stderr, "netem: %s\n", err);
  login_policy_close(cli->lp);
  if (cli->proxy) netem_proxy_close(cli->proxy, NULL, NULL);
  uv_run(cli->loop, UV_RUN_DEFAULT);
  uv_loop_close(cli->loop);
  return 2;
}

int netem_cli_main(int argc, char **argv) {
  struct args a;
  struct netem_fault parsed[MAX_FAULTS];
  int r = parse_args(&a, argc, argv, parsed);
  if (r) return r > 0 ? 0 : 2;
  signal(SIGPIPE, SIG_IGN);
  struct cli cli;
  memset(&cli, 0, sizeof cli);
  cli.loop = uv_default_loop();
  cli.quiet = a.quiet;
  cli.t0 = uv_hrtime();
  struct netem_proxy_opts *o = &a.o;
  o->name = o->view == NETEM_VIEW_HTTP ? "http" : o->view == NETEM_VIEW_MQTT ? "mqtt" : "tcp";
  o->listen_host = a.lhost;
  o->upstream_host = a.uhost;
  o->on_event = on_event;
  o->user = &cli;
  char err[320];
  /* a host that is not a numeric IP, a port in use: what the command line asked for */
  if (netem_proxy_open(cli.loop, o, &cli.proxy, err, sizeof err)) return cli.proxy = NULL, give_up(&cli, err);
  printf("listening %s:%d upstream %s:%d view %s seed %" PRIu64 "%s%s\n", a.lhost, netem_proxy_port(cli.proxy), a.uhost,
         o->upstream_port, o->name, o->seed, o->tls_cert ? " tls" : "", o->upstream_tls ? " upstream-tls" : "");
  fflush(stdout);
  if (a.login && !(cli.lp = login_policy_new(cli.loop, &cli.proxy, a.login_hold_ms, a.answer, a.code)))
    return give_up(&cli, "out of memory");
  if (a.tls_hs) netem_proxy_tls_handshake(cli.proxy, (enum netem_tls_handshake)a.tls_hs);
  for (int i = 0; i < a.nfaults; i++) {
    char why[256];
    if (netem_fault_add(cli.proxy, &parsed[i], NULL, why, sizeof why)) {
      snprintf(err, sizeof err, "--fault %s: %s", a.faults[i], why);
      return give_up(&cli, err);
    }
  }
  uv_signal_init(cli.loop, &cli.sigint);
  uv_signal_init(cli.loop, &cli.sigterm);
  cli.sigint.data = cli.sigterm.data = &cli;
  uv_signal_start(&cli.sigint, on_signal, SIGINT);
  uv_signal_start(&cli.sigterm, on_signal, SIGTERM);
  uv_run(cli.loop, UV_RUN_DEFAULT);
  if (uv_loop_close(cli.loop)) {
    fprintf(stderr, "netem: loop still has handles at exit\n");
    return 3;
  }
  return 0;
}
