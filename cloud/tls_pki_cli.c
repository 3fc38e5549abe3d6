/* tls_pki_cli: `otahil tls ca|certs` (see tls_pki_cli.h). */
#include "tls_pki_cli.h"

#include <stdio.h>
#include <string.h>

#include "tls_pki.h"

#define MAX_NAMES 32

static int usage(void) {
  fprintf(stderr, "usage: otahil tls ca --out DIR\n"
                  "       otahil tls certs --out DIR NAME...   (NAME: a DNS name or an IP address)\n");
  return 2;
}

int tls_pki_cli_main(int argc, char **argv) {
  if (argc < 2 || (strcmp(argv[1], "ca") != 0 && strcmp(argv[1], "certs") != 0)) return usage();
  int certs = strcmp(argv[1], "certs") == 0;
  const char *out = NULL, *names[MAX_NAMES];
  size_t n = 0;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
      out = argv[++i];
    } else if (certs && argv[i][0] != '-' && n < MAX_NAMES) {
      names[n++] = argv[i];
    } else {
      fprintf(stderr, "otahil tls %s: unexpected '%s'\n", argv[1], argv[i]);
      return usage();
    }
  }
  if (!out || (certs && n == 0)) return usage();
  char err[512], path[4096];
  int rc = certs ? tls_pki_make(out, names, n, err, sizeof err) : tls_pki_ca(out, err, sizeof err);
  if (rc) {
    fprintf(stderr, "otahil tls %s: %s\n", argv[1], err);
    return 2;
  }
  printf("%s\n", tls_pki_path(out, "ca.pem", path, sizeof path) ? path : out);
  return 0;
}
