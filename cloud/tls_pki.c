/* tls_pki: the test CA and its server certificates (see tls_pki.h). */
#include "tls_pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define ERR(...) \
  do { if (err && errlen) snprintf(err, errlen, __VA_ARGS__); } while (0)

#define DAY (24L * 3600L)
#define CA_DAYS 3650L
#define LEAF_DAYS 365L

const char *tls_pki_leaf_cert(enum tls_pki_leaf leaf) {
  static const char *const f[TLS_PKI_NLEAVES] = {"server.pem", "expired.pem", "wrongname.pem", "untrusted.pem"};
  return leaf < TLS_PKI_NLEAVES ? f[leaf] : NULL;
}

const char *tls_pki_leaf_key(enum tls_pki_leaf leaf) {
  static const char *const f[TLS_PKI_NLEAVES] = {"server.key", "expired.key", "wrongname.key", "untrusted.key"};
  return leaf < TLS_PKI_NLEAVES ? f[leaf] : NULL;
}

char *tls_pki_path(const char *dir, const char *file, char *buf, size_t size) {
  int n = snprintf(buf, size, "%s/%s", dir, file);
  return n < 0 || (size_t)n >= size ? NULL : buf;
}

static const char *ssl_why(void) {
  static __thread char buf[160];
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e) return "unknown libcrypto error";
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

/* ---- building certificates ---- */

struct subject {
  const char *cn;
  const char *const *names; /* SANs; NULL for a CA */
  size_t n;
  long from, to;            /* seconds from now */
  int ca;
};

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  if (!ext) return -1;
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok ? 0 : -1;
}

static int is_ip(const char *s, unsigned char *out, int *len) {
  if (inet_pton(AF_INET, s, out) == 1) return *len = 4, 1;
  if (inet_pton(AF_INET6, s, out) == 1) return *len = 16, 1;
  return 0;
}

static int add_san(X509 *cert, const struct subject *s) {
  GENERAL_NAMES *gens = GENERAL_NAMES_new();
  int rc = gens ? 0 : -1;
  for (size_t i = 0; i < s->n && rc == 0; i++) {
    unsigned char ip[16];
    int iplen;
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_STRING *v = NULL;
    if (is_ip(s->names[i], ip, &iplen)) {
      v = ASN1_OCTET_STRING_new();
      if (v && ASN1_OCTET_STRING_set(v, ip, iplen)) GENERAL_NAME_set0_value(g, GEN_IPADD, v), v = NULL;
      else rc = -1;
    } else {
      v = ASN1_IA5STRING_new();
      if (v && ASN1_STRING_set(v, s->names[i], -1)) GENERAL_NAME_set0_value(g, GEN_DNS, v), v = NULL;
      else rc = -1;
    }
    ASN1_STRING_free(v);
    if (!g || rc || !sk_GENERAL_NAME_push(gens, g)) {
      GENERAL_NAME_free(g);
      rc = -1;
    }
  }
  if (rc == 0 && !X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT)) rc = -1;
  GENERAL_NAMES_free(gens);
  return rc;
}

static int set_fields(X509 *cert, EVP_PKEY *key, const struct subject *s) {
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return -1;
  serial[0] &= 0x7f; /* positive */
  BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
  int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
  BN_free(bn);
  X509_NAME *name = X509_get_subject_name(cert);
  ok = ok && X509_set_version(cert, 2) &&
       X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"otahil test PKI", -1, -1, 0) &&
       X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)s->cn, -1, -1, 0) &&
       X509_gmtime_adj(X509_getm_notBefore(cert), s->from) && X509_gmtime_adj(X509_getm_notAfter(cert), s->to) &&
       X509_set_pubkey(cert, key);
  return ok ? 0 : -1;
}

/* A certificate for key, signed by issuer/issuer_key (NULL: self-signed). */
static X509 *make_cert(EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, const struct subject *s) {
  X509 *cert = X509_new();
  if (!cert || set_fields(cert, key, s)) goto fail;
  if (!X509_set_issuer_name(cert, X509_get_subject_name(issuer ? issuer : cert))) goto fail;
  X509 *iss = issuer ? issuer : cert;
  if (add_ext(cert, iss, NID_subject_key_identifier, "hash") ||
      add_ext(cert, iss, NID_authority_key_identifier, "keyid:always"))
    goto fail;
  if (s->ca) {
    if (add_ext(cert, iss, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
        add_ext(cert, iss, NID_key_usage, "critical,keyCertSign,cRLSign"))
      goto fail;
  } else if (add_ext(cert, iss, NID_basic_constraints, "critical,CA:FALSE") ||
             add_ext(cert, iss, NID_key_usage, "critical,digitalSignature") ||
             add_ext(cert, iss, NID_ext_key_usage, "serverAuth") || add_san(cert, s)) {
    goto fail;
  }
  if (!X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256())) goto fail;
  return cert;
fail:
  X509_free(cert);
  return NULL;
}

/* ---- files ---- */

/* Writes a PEM file atomically (temp file, rename); keys 0600. */
static int write_pem(const char *path, X509 *cert, EVP_PKEY *key, char *err, size_t errlen) {
  char tmp[4200];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
    ERR("%s: path too long", path);
    return -1;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, key ? 0600 : 0644);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!f) {
    ERR("%s: %s", tmp, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  int ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, cert);
  if (fclose(f) != 0) ok = 0;
  if (!ok || rename(tmp, path) != 0) {
    ERR("%s: cannot write (%s)", path, ok ? strerror(errno) : ssl_why());
    unlink(tmp);
    return -1;
  }
  return 0;
}

static int write_pair(const char *dir, const char *cert_file, const char *key_file, X509 *cert, EVP_PKEY *key,
                      char *err, size_t errlen) {
  char path[4096];
  if (!tls_pki_path(dir, cert_file, path, sizeof path) || write_pem(path, cert, NULL, err, errlen)) return -1;
  if (!tls_pki_path(dir, key_file, path, sizeof path) || write_pem(path, NULL, key, err, errlen)) return -1;
  return 0;
}

/* Loads ca.pem and ca.key. 1: loaded and usable; 0: neither file exists; -1: error. */
static int load_ca(const char *dir, X509 **cert, EVP_PKEY **key, char *err, size_t errlen) {
  char cpath[4096], kpath[4096];
  tls_pki_path(dir, "ca.pem", cpath, sizeof cpath);
  tls_pki_path(dir, "ca.key", kpath, sizeof kpath);
  int have_c = access(cpath, F_OK) == 0, have_k = access(kpath, F_OK) == 0;
  if (!have_c && !have_k) return 0;
  if (have_c != have_k) {
    ERR("%s: missing (its %s is there; remove both to make a new CA)", have_c ? kpath : cpath,
        have_c ? "certificate" : "key");
    return -1;
  }
  FILE *f = fopen(cpath, "r");
  *cert = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
  if (f) fclose(f);
  f = fopen(kpath, "r");
  *key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
  if (f) fclose(f);
  const char *why = !*cert ? "ca.pem is not a PEM certificate"
                    : !*key ? "ca.key is not a PEM private key"
                    : X509_check_private_key(*cert, *key) != 1 ? "ca.key does not match ca.pem"
                    : X509_cmp_time(X509_get0_notAfter(*cert), NULL) <= 0 ? "the CA in ca.pem has expired"
                    : X509_check_ca(*cert) == 0 ? "ca.pem is not a CA certificate"
                                                : NULL;
  ERR_clear_error();
  if (why) {
    ERR("%s: %s (remove ca.pem and ca.key to make a new CA)", dir, why);
    X509_free(*cert);
    EVP_PKEY_free(*key);
    *cert = NULL;
    *key = NULL;
    return -1;
  }
  return 1;
}

static int ensure_dir(const char *dir, char *err, size_t errlen) {
  if (mkdir(dir, 0755) == 0 || errno == EEXIST) {
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    ERR("%s: not a directory", dir);
    return -1;
  }
  ERR("%s: %s", dir, strerror(errno));
  return -1;
}

/* The CA, loaded or made (and written). */
static int get_ca(const char *dir, X509 **cert, EVP_PKEY **key, char *err, size_t errlen) {
  if (ensure_dir(dir, err, errlen)) return -1;
  int r = load_ca(dir, cert, key, err, errlen);
  if (r != 0) return r < 0 ? -1 : 0;
  struct subject s = {"otahil test CA", NULL, 0, -3600, CA_DAYS * DAY, 1};
  *key = EVP_EC_gen("P-256");
  *cert = *key ? make_cert(*key, NULL, NULL, &s) : NULL;
  if (!*cert) {
    ERR("%s: cannot make the CA: %s", dir, ssl_why());
    EVP_PKEY_free(*key);
    *key = NULL;
    return -1;
  }
  /* the key first: a ca.pem without its key would be refused by the next run */
  if (write_pair(dir, "ca.pem", "ca.key", *cert, *key, err, errlen)) {
    X509_free(*cert);
    EVP_PKEY_free(*key);
    *cert = NULL;
    *key = NULL;
    return -1;
  }
  return 0;
}

int tls_pki_ca(const char *dir, char *err, size_t errlen) {
  X509 *cert = NULL;
  EVP_PKEY *key = NULL;
  int rc = get_ca(dir, &cert, &key, err, errlen);
  X509_free(cert);
  EVP_PKEY_free(key);
  return rc;
}

/* ---- leaves ---- */

static int check_names(const char *const *names, size_t n, char *err, size_t errlen) {
  if (n == 0) {
    ERR("tls_pki_make: no name to issue a certificate for");
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char ip[16];
    int len;
    const char *s = names[i];
    if (!s || !*s || strlen(s) > 253 || (!is_ip(s, ip, &len) && strspn(s, "abcdefghijklmnopqrstuvwxyz"
                                                                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                                             "0123456789.-*") != strlen(s))) {
      ERR("tls_pki_make: '%s' is neither an IP address nor a DNS name", s ? s : "(null)");
      return -1;
    }
  }
  return 0;
}

static int issue(const char *dir, enum tls_pki_leaf leaf, X509 *ca, EVP_PKEY *ca_key, const struct subject *s,
                 char *err, size_t errlen) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *cert = key ? make_cert(key, ca, ca_key, s) : NULL;
  int rc = -1;
  if (!cert) ERR("%s/%s: cannot make it: %s", dir, tls_pki_leaf_cert(leaf), ssl_why());
  else rc = write_pair(dir, tls_pki_leaf_cert(leaf), tls_pki_leaf_key(leaf), cert, key, err, errlen);
  X509_free(cert);
  EVP_PKEY_free(key);
  return rc;
}

int tls_pki_make(const char *dir, const char *const *names, size_t n, char *err, size_t errlen) {
  if (check_names(names, n, err, errlen)) return -1;
  X509 *ca = NULL, *other = NULL;
  EVP_PKEY *ca_key = NULL, *other_key = NULL;
  if (get_ca(dir, &ca, &ca_key, err, errlen)) return -1;
  static const char *const wrong[] = {TLS_PKI_WRONG_NAME};
  struct subject server = {names[0], names, n, -3600, LEAF_DAYS * DAY, 0};
  struct subject expired = {names[0], names, n, -30 * DAY, -DAY, 0};
  struct subject wrongname = {wrong[0], wrong, 1, -3600, LEAF_DAYS * DAY, 0};
  struct subject other_ca = {"otahil untrusted CA", NULL, 0, -3600, LEAF_DAYS * DAY, 1};
  int rc = issue(dir, TLS_PKI_SERVER, ca, ca_key, &server, err, errlen);
  if (!rc) rc = issue(dir, TLS_PKI_EXPIRED, ca, ca_key, &expired, err, errlen);
  if (!rc) rc = issue(dir, TLS_PKI_WRONGNAME, ca, ca_key, &wrongname, err, errlen);
  if (!rc) {
    other_key = EVP_EC_gen("P-256");
    other = other_key ? make_cert(other_key, NULL, NULL, &other_ca) : NULL;
    if (!other) {
      ERR("%s: cannot make the untrusted CA: %s", dir, ssl_why());
      rc = -1;
    }
  }
  if (!rc) rc = issue(dir, TLS_PKI_UNTRUSTED, other, other_key, &server, err, errlen);
  X509_free(ca);
  X509_free(other);
  EVP_PKEY_free(ca_key);
  EVP_PKEY_free(other_key);
  return rc;
}
