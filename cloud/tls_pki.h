/* tls_pki: a test PKI made with libcrypto, as PEM files in one folder.
 *
 * A lab's firmware must trust the cloud's certificate, so otahil makes a CA once and
 * keeps it (a board can be flashed with ca.pem), and issues from it the server
 * certificates the TLS-terminating proxies present, plus the wrong ones the TLS faults
 * present. Keys are EC P-256 (fast to make, accepted by mbedTLS, OpenSSL, wolfSSL).
 *
 * Files in the folder (keys are mode 0600):
 *   ca.pem, ca.key             the CA: kept when present, parseable and not expired
 *   server.pem, server.key     valid for every name given, issued by the CA
 *   expired.pem, expired.key   the same names, by the same CA, expired a day ago
 *   wrongname.pem, .key        by the same CA, only for TLS_PKI_WRONG_NAME
 *   untrusted.pem, .key        the same names, from another (throw-away) CA
 * Leaf files are written again on every call (atomically: temp file, then rename).
 */
#ifndef OTAHIL_TLS_PKI_H
#define OTAHIL_TLS_PKI_H

#include <stddef.h>

#define TLS_PKI_WRONG_NAME "wrong-name.otahil.invalid"

/* The leaf certificates tls_pki_make() issues. */
enum tls_pki_leaf {
  TLS_PKI_SERVER = 0,
  TLS_PKI_EXPIRED,
  TLS_PKI_WRONGNAME,
  TLS_PKI_UNTRUSTED,
  TLS_PKI_NLEAVES
};

/* Makes (or keeps) the CA in dir, creating dir if needed. Returns 0, or -1 with a
 * one-line message naming the file in err. */
int tls_pki_ca(const char *dir, char *err, size_t errlen);

/* tls_pki_ca(), then every leaf for names[0..n): each an IP literal (an IP SAN,
 * "127.0.0.1", "::1") or a DNS name. The first name is also the subject's CN.
 * Returns 0 or -1 with a message in err. */
int tls_pki_make(const char *dir, const char *const *names, size_t n, char *err, size_t errlen);

/* Writes "dir/<file>" into buf: file is e.g. "ca.pem". Returns buf, or NULL if it does
 * not fit. */
char *tls_pki_path(const char *dir, const char *file, char *buf, size_t size);

/* The cert and key file names of a leaf ("server.pem", "server.key"), static strings. */
const char *tls_pki_leaf_cert(enum tls_pki_leaf leaf);
const char *tls_pki_leaf_key(enum tls_pki_leaf leaf);

#endif
