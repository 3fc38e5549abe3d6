/* netem_cli: the standalone proxy command (see netem_cli.h). */
#include "netem_cli.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netem.h"

#define MAX_FAULTS 64

struct cli {
  uv_loop_t *loop;
  netem_proxy *proxy;
  uv_signal_t sigint, sigterm;
  int quiet;
  uint64_t t0;
};

static void usage(FILE *out) {
  fprintf(out,
          "usage: otahil netem --listen HOST:PORT --upstream HOST:PORT [--http|--mqtt]\n"
          "                    [--fault SPEC]... [--seed N] [--progress BYTES] [--quiet] [--no-splice]\n"
          "                    [--tls-cert FILE --tls-key FILE [--tls-handshake stall|fin|rst]]\n"
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
  if (cli->quiet && ev->kind != NETEM_EV_FAULT && ev->kind != NETEM_EV_FRAMING_ERROR) return;
  char line[1024];
  double t = (double)(uv_hrtime() - cli->t0) / 1e9;
  printf("%10.6f %s\n", t, netem_event_format(ev, line, sizeof line));
  fflush(stdout);
}

static void on_signal(uv_signal_t *s, int signum) {
  struct cli *cli = s->data;
  (void)signum;
  if (cli->proxy) {
    netem_proxy_close(cli->proxy, NULL, NULL);
    cli->proxy = NULL;
  }
  uv_close((uv_handle_t *)&cli->sigint, NULL);
  uv_close((uv_handle_t *)&cli->sigterm, NULL);
}

int netem_cli_main(int argc, char **argv) {
  struct netem_proxy_opts o;
  memset(&o, 0, sizeof o);
  char lhost[128] = "", uhost[256] = "";
  const char *faults[MAX_FAULTS];
  int nfaults = 0, have_seed = 0, quiet = 0, tls_hs = NETEM_TLS_HS_OK;
  o.view = NETEM_VIEW_RAW;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--listen") == 0 && val) {
      if (split_hostport(val, lhost, sizeof lhost, &o.listen_port)) {
        fprintf(stderr, "netem: --listen '%s': want HOST:PORT\n", val);
        return 2;
      }
      i++;
    } else if (strcmp(a, "--upstream") == 0 && val) {
      if (split_hostport(val, uhost, sizeof uhost, &o.upstream_port) || o.upstream_port == 0) {
        fprintf(stderr, "netem: --upstream '%s': want HOST:PORT\n", val);
        return 2;
      }
      i++;
    } else if (strcmp(a, "--http") == 0) {
      o.view = NETEM_VIEW_HTTP;
    } else if (strcmp(a, "--mqtt") == 0) {
      o.view = NETEM_VIEW_MQTT;
    } else if (strcmp(a, "--quiet") == 0) {
      quiet = 1;
    } else if ((strcmp(a, "--tls-cert") == 0 || strcmp(a, "--tls-key") == 0) && val) {
      *(a[6] == 'c' ? &o.tls_cert : &o.tls_key) = val;
      i++;
    } else if (strcmp(a, "--tls-handshake") == 0 && val) {
      tls_hs = strcmp(val, "stall") == 0 ? NETEM_TLS_HS_STALL : strcmp(val, "fin") == 0 ? NETEM_TLS_HS_FIN
               : strcmp(val, "rst") == 0 ? NETEM_TLS_HS_RST : -1;
      if (tls_hs < 0) {
        fprintf(stderr, "netem: --tls-handshake '%s': want stall, fin or rst\n", val);
        return 2;
      }
      i++;
    } else if (strcmp(a, "--no-splice") == 0) {
      o.no_splice = 1;
    } else if (strcmp(a, "--fault") == 0 && val) {
      /* "--fault SPEC...": SPECs until the next option */
      if (strncmp(val, "--", 2) == 0) {
        fprintf(stderr, "netem: --fault needs a SPEC (see --help)\n");
        return 2;
      }
      while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
        if (nfaults == MAX_FAULTS) {
          fprintf(stderr, "netem: more than %d faults\n", MAX_FAULTS);
          return 2;
        }
        faults[nfaults++] = argv[++i];
      }
    } else if ((strcmp(a, "--seed") == 0 || strcmp(a, "--progress") == 0) && val) {
      char *end;
      errno = 0;
      unsigned long long v = strtoull(val, &end, 0);
      if (errno || end == val || *end || val[0] == '-') {
        fprintf(stderr, "netem: %s '%s': want a number\n", a, val);
        return 2;
      }
      if (a[2] == 's') {
        o.seed = v;
        have_seed = 1;
      } else {
        o.progress_step = v;
      }
      i++;
    } else {
      fprintf(stderr, "netem: unknown or incomplete option '%s' (see --help)\n", a);
      return 2;
    }
  }
  if (!o.tls_cert != !o.tls_key || (tls_hs && !o.tls_cert)) {
    fprintf(stderr, "netem: --tls-cert and --tls-key go together (and --tls-handshake needs them)\n");
    return 2;
  }
  if (!lhost[0] || !uhost[0]) {
    fprintf(stderr, "netem: --listen and --upstream are required (see --help)\n");
    return 2;
  }
  char err[256];
  struct netem_fault parsed[MAX_FAULTS];
  for (int i = 0; i < nfaults; i++) {
    if (netem_fault_parse(faults[i], &parsed[i], err, sizeof err)) {
      fprintf(stderr, "netem: --fault %s: %s\n", faults[i], err);
      return 2;
    }
  }
  if (!have_seed) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    o.seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec;
  }
  signal(SIGPIPE, SIG_IGN);
  struct cli cli;
  memset(&cli, 0, sizeof cli);
  cli.loop = uv_default_loop();
  cli.quiet = quiet;
  cli.t0 = uv_hrtime();
  o.name = o.view == NETEM_VIEW_HTTP ? "http" : o.view == NETEM_VIEW_MQTT ? "mqtt" : "tcp";
  o.listen_host = lhost;
  o.upstream_host = uhost;
  o.on_event = on_event;
  o.user = &cli;
  int rc = netem_proxy_open(cli.loop, &o, &cli.proxy, err, sizeof err);
  if (rc) {
    /* a host that is not a numeric IP, a port in use: what the command line asked for */
    fprintf(stderr, "netem: %s\n", err);
    uv_run(cli.loop, UV_RUN_DEFAULT);
    uv_loop_close(cli.loop);
    return 2;
  }
  printf("listening %s:%d upstream %s:%d view %s seed %" PRIu64 "%s\n", lhost, netem_proxy_port(cli.proxy), uhost,
         o.upstream_port, o.name, o.seed, o.tls_cert ? " tls" : "");
  fflush(stdout);
  if (tls_hs) netem_proxy_tls_handshake(cli.proxy, (enum netem_tls_handshake)tls_hs);
  for (int i = 0; i < nfaults; i++) {
    if (netem_fault_add(cli.proxy, &parsed[i], NULL, err, sizeof err)) {
      fprintf(stderr, "netem: --fault %s: %s\n", faults[i], err);
      netem_proxy_close(cli.proxy, NULL, NULL);
      uv_run(cli.loop, UV_RUN_DEFAULT);
      uv_loop_close(cli.loop);
      return 2;
    }
  }
  uv_signal_init(cli.loop, &cli.sigint);
  uv_signal_init(cli.loop, &cli.sigterm);
  cli.sigint.data = cli.sigterm.data = &cli;
  uv_signal_start(&cli.sigint, on_signal, SIGINT);
  uv_signal_start(&cli.sigterm, on_signal, SIGTERM);
  uv_run(cli.loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(cli.loop);
  if (rc) {
    fprintf(stderr, "netem: loop still has handles at exit\n");
    return 3;
  }
  return 0;
}
