/* tls_pki: the test PKI. Each certificate is checked the way a device's TLS stack
 * checks it (OpenSSL's X509_verify_cert with the host or IP set), against ca.pem. */
#include <check.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/tmpdir.h"
#include "tls_pki.h"

static char dir[256];
static const char *const names[] = {"otahil.lab.test", "localhost", "127.0.0.1", "::1"};
#define NNAMES (sizeof names / sizeof names[0])

static void setup(void) { tmpdir_make(dir, sizeof dir, "tls-pki"); }
static void teardown(void) { tmpdir_remove(dir); }

static X509 *load(const char *file) {
  char path[512];
  ck_assert_ptr_nonnull(tls_pki_path(dir, file, path, sizeof path));
  FILE *f = fopen(path, "r");
  ck_assert_msg(f != NULL, "%s missing", path);
  X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  ck_assert_msg(x != NULL, "%s: not a certificate", path);
  return x;
}

/* X509_V_OK, or why the certificate in `file` does not verify for `name`. */
static int verify(const char *file, const char *name) {
  X509 *ca = load("ca.pem"), *leaf = load(file);
  X509_STORE *store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  ck_assert_int_eq(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
  X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_purpose(vp, X509_PURPOSE_SSL_SERVER);
  if (strchr(name, ':') || strspn(name, "0123456789.") == strlen(name))
    ck_assert_int_eq(X509_VERIFY_PARAM_set1_ip_asc(vp, name), 1);
  else
    ck_assert_int_eq(X509_VERIFY_PARAM_set1_host(vp, name, 0), 1);
  int ok = X509_verify_cert(ctx);
  int why = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(ca);
  X509_free(leaf);
  return why;
}

static void make(void) {
  char err[512] = "";
  ck_assert_msg(tls_pki_make(dir, names, NNAMES, err, sizeof err) == 0, "tls_pki_make: %s", err);
}

START_TEST(server_cert_verifies_for_every_name) {
  make();
  for (size_t i = 0; i < NNAMES; i++)
    ck_assert_msg(verify("server.pem", names[i]) == X509_V_OK, "server.pem for %s: %s", names[i],
                  X509_verify_cert_error_string(verify("server.pem", names[i])));
  ck_assert_int_eq(verify("server.pem", "other.lab.test"), X509_V_ERR_HOSTNAME_MISMATCH);
  ck_assert_int_eq(verify("server.pem", "127.0.0.2"), X509_V_ERR_IP_ADDRESS_MISMATCH);
}
END_TEST

START_TEST(the_bad_certificates_fail_as_they_should) {
  make();
  for (size_t i = 0; i < NNAMES; i++) {
    int ip = strchr(names[i], ':') || strspn(names[i], "0123456789.") == strlen(names[i]);
    ck_assert_int_eq(verify("wrongname.pem", names[i]), ip ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH);
    ck_assert_int_eq(verify("expired.pem", names[i]), X509_V_ERR_CERT_HAS_EXPIRED);
    ck_assert_int_eq(verify("untrusted.pem", names[i]), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  }
  ck_assert_int_eq(verify("wrongname.pem", TLS_PKI_WRONG_NAME), X509_V_OK); /* only the name is wrong */
}
END_TEST

static char *slurp(const char *file) {
  char path[512];
  tls_pki_path(dir, file, path, sizeof path);
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  char *buf = calloc(1, 65536);
  ck_assert_uint_gt(fread(buf, 1, 65535, f), 0);
  fclose(f);
  return buf;
}

START_TEST(the_ca_is_kept_and_keys_are_private) {
  make();
  char *ca1 = slurp("ca.pem"), *srv1 = slurp("server.pem");
  make();
  char *ca2 = slurp("ca.pem"), *srv2 = slurp("server.pem");
  ck_assert_str_eq(ca1, ca2);        /* a board flashed with it still trusts the cloud */
  ck_assert_str_ne(srv1, srv2);      /* leaves are issued again */
  ck_assert_int_eq(verify("server.pem", "127.0.0.1"), X509_V_OK);
  char path[512];
  struct stat st;
  const char *keys[] = {"ca.key", "server.key", "expired.key", "wrongname.key", "untrusted.key"};
  for (size_t i = 0; i < 5; i++) {
    ck_assert_int_eq(stat(tls_pki_path(dir, keys[i], path, sizeof path), &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
  }
  free(ca1), free(ca2), free(srv1), free(srv2);
}
END_TEST

START_TEST(a_broken_ca_or_a_bad_name_is_an_error_with_its_place) {
  char err[512] = "", path[512];
  const char *bad[] = {"127.0.0.1", "no spaces allowed"};
  ck_assert_int_eq(tls_pki_make(dir, bad, 2, err, sizeof err), -1);
  ck_assert_msg(strstr(err, "'no spaces allowed'") != NULL, "%s", err);
  ck_assert_int_eq(tls_pki_ca(dir, err, sizeof err), 0);
  FILE *f = fopen(tls_pki_path(dir, "ca.pem", path, sizeof path), "w");
  fputs("not a certificate\n", f);
  fclose(f);
  ck_assert_int_eq(tls_pki_ca(dir, err, sizeof err), -1);
  ck_assert_msg(strstr(err, dir) && strstr(err, "ca.pem is not a PEM certificate"), "%s", err);
  remove(path);
  ck_assert_int_eq(tls_pki_ca(dir, err, sizeof err), -1); /* a key without its certificate */
  ck_assert_msg(strstr(err, "ca.pem: missing"), "%s", err);
}
END_TEST

int main(void) {
  Suite *s = suite_create("tls_pki");
  TCase *tc = tcase_create("pki");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, server_cert_verifies_for_every_name);
  tcase_add_test(tc, the_bad_certificates_fail_as_they_should);
  tcase_add_test(tc, the_ca_is_kept_and_keys_are_private);
  tcase_add_test(tc, a_broken_ca_or_a_bad_name_is_an_error_with_its_place);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
