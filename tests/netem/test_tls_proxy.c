/* The TLS-terminating proxy in-process: a blocking OpenSSL client (a thread) through
 * the proxy (the main thread's loop) to a slow plaintext upstream (a thread). The
 * certificate is switched (netem_proxy_tls_identity) while a download is open on the
 * old one: that download completes whole, the next connection gets the new certificate.
 * The loop ends with no live handle (and, under ASan, nothing freed too early). */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "../common/tmpdir.h"
#include "netem.h"
#include "tls_pki.h"

#define BODY (256 * 1024)

static char dir[256];
static atomic_int stage; /* 1: the client has the first half; 2: switched; 3: client done */
static int upstream_port;
static int upstream_fd;

static uint8_t body_byte(size_t i) { return (uint8_t)((i * 13 + 5) & 0xff); }

/* Serves each connection: reads the request head, answers BODY bytes in two halves,
   the second one only once the certificate was switched. */
static void *upstream(void *arg) {
  (void)arg;
  for (int n = 0; n < 2; n++) {
    int c = accept(upstream_fd, NULL, NULL);
    if (c < 0) return NULL;
    char req[2048];
    size_t got = 0;
    while (got < sizeof req - 1 && !memmem(req, got, "\r\n\r\n", 4)) {
      ssize_t r = read(c, req + got, sizeof req - 1 - got);
      if (r <= 0) break;
      got += (size_t)r;
    }
    if (!memmem(req, got, "\r\n\r\n", 4)) { /* the proxy connects before the handshake: */
      close(c);                               /* one that failed sends nothing */
      continue;
    }
    char head[128];
    int hl = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", BODY);
    uint8_t *body = malloc(BODY);
    for (size_t i = 0; i < BODY; i++) body[i] = body_byte(i);
    ssize_t w = write(c, head, (size_t)hl);
    size_t half = n == 0 ? BODY / 2 : BODY;
    for (size_t off = 0; w > 0 && off < half; off += (size_t)w) w = write(c, body + off, half - off);
    while (n == 0 && atomic_load(&stage) < 2) usleep(1000);
    for (size_t off = half; w > 0 && off < BODY; off += (size_t)w) w = write(c, body + off, BODY - off);
    free(body);
    close(c);
  }
  return NULL;
}

struct client_result {
  int port;
  int verify;      /* X509_V_OK or why the handshake failed */
  size_t got;      /* body bytes read */
  int body_ok;
  int wait_switch; /* stop after half the body until the switch */
  atomic_int finished;
};

static void *client(void *arg) {
  struct client_result *r = arg;
  char ca[512];
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_load_verify_locations(ctx, tls_pki_path(dir, "ca.pem", ca, sizeof ca), NULL);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  SSL *ssl = SSL_new(ctx);
  SSL_set1_host(ssl, "localhost");
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  r->verify = -1;
  if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
    SSL_set_fd(ssl, fd);
    int ok = SSL_connect(ssl);
    r->verify = ok == 1 ? X509_V_OK : (int)SSL_get_verify_result(ssl);
    if (ok == 1) {
      const char *req = "GET /fw HTTP/1.1\r\nHost: localhost\r\n\r\n";
      SSL_write(ssl, req, (int)strlen(req));
      char buf[16384];
      size_t head = 0, in_head = 1;
      char hbuf[512];
      r->body_ok = 1;
      int n;
      while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) {
        size_t i = 0;
        for (; in_head && i < (size_t)n; i++) {
          if (head < sizeof hbuf) hbuf[head++] = buf[i];
          if (head >= 4 && memcmp(hbuf + head - 4, "\r\n\r\n", 4) == 0) in_head = 0;
        }
        for (; i < (size_t)n; i++, r->got++)
          if ((uint8_t)buf[i] != body_byte(r->got)) r->body_ok = 0;
        if (r->wait_switch && r->got >= BODY / 2 && atomic_load(&stage) < 1) {
          atomic_store(&stage, 1);
          while (atomic_load(&stage) < 2) usleep(1000);
        }
        if (r->got >= BODY) break;
      }
    }
  }
  close(fd);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  if (r->wait_switch) atomic_store(&stage, 3);
  atomic_store(&r->finished, 1);
  return NULL;
}

struct fx {
  netem_proxy *p;
  int faults_set, cert_events;
};

static void on_event(const struct netem_event *ev, void *user) {
  struct fx *f = user;
  if (ev->kind == NETEM_EV_FAULT && ev->fault && strcmp(ev->fault, "tls-cert") == 0) f->cert_events++;
}

static void poll_stage(uv_timer_t *t) {
  struct fx *f = t->data;
  char cert[512], key[512], err[256];
  if (atomic_load(&stage) == 1 && !f->faults_set) {
    ck_assert_int_eq(netem_proxy_tls_identity(f->p, tls_pki_path(dir, "expired.pem", cert, sizeof cert),
                                              tls_pki_path(dir, "expired.key", key, sizeof key), err, sizeof err),
                     0);
    f->faults_set = 1;
    atomic_store(&stage, 2);
  }
  if (atomic_load(&stage) == 3) uv_timer_stop(t);
}

START_TEST(switching_the_certificate_keeps_open_downloads_whole) {
  tmpdir_make(dir, sizeof dir, "tls-proxy");
  const char *names[] = {"localhost", "127.0.0.1"};
  char err[512], cert[512], key[512];
  ck_assert_msg(tls_pki_make(dir, names, 2, err, sizeof err) == 0, "%s", err);
  upstream_fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  ck_assert_int_eq(bind(upstream_fd, (struct sockaddr *)&a, sizeof a), 0);
  ck_assert_int_eq(listen(upstream_fd, 4), 0);
  getsockname(upstream_fd, (struct sockaddr *)&a, &alen);
  upstream_port = ntohs(a.sin_port);
  pthread_t up;
  pthread_create(&up, NULL, upstream, NULL);

  uv_loop_t loop;
  uv_loop_init(&loop);
  struct fx f = {0};
  struct netem_proxy_opts o = {0};
  o.name = "tls";
  o.listen_host = "127.0.0.1";
  o.upstream_host = "127.0.0.1";
  o.upstream_port = upstream_port;
  o.view = NETEM_VIEW_HTTP;
  o.on_event = on_event;
  o.user = &f;
  o.tls_cert = tls_pki_path(dir, "server.pem", cert, sizeof cert);
  o.tls_key = tls_pki_path(dir, "server.key", key, sizeof key);
  ck_assert_msg(netem_proxy_open(&loop, &o, &f.p, err, sizeof err) == 0, "%s", err);

  struct client_result first = {.port = netem_proxy_port(f.p), .wait_switch = 1};
  pthread_t cl;
  pthread_create(&cl, NULL, client, &first);
  uv_timer_t t;
  uv_timer_init(&loop, &t);
  t.data = &f;
  uv_timer_start(&t, poll_stage, 1, 1);
  uint64_t deadline = uv_hrtime() + 20000000000ull;
  while (atomic_load(&stage) < 3 && uv_hrtime() < deadline) uv_run(&loop, UV_RUN_ONCE);
  ck_assert_msg(atomic_load(&stage) == 3, "the first download did not end within 20 s (stage %d)", atomic_load(&stage));
  pthread_join(cl, NULL);
  ck_assert_int_eq(first.verify, X509_V_OK);
  ck_assert_int_eq(first.got, BODY); /* the open download, on the old certificate, is whole */
  ck_assert(first.body_ok);
  ck_assert_int_eq(f.cert_events, 1);

  struct client_result second = {.port = netem_proxy_port(f.p)};
  pthread_create(&cl, NULL, client, &second);
  while (!atomic_load(&second.finished) && uv_hrtime() < deadline) { /* the proxy runs here */
    uv_run(&loop, UV_RUN_NOWAIT);
    usleep(1000);
  }
  ck_assert_msg(atomic_load(&second.finished), "the second client did not finish within 20 s");
  pthread_join(cl, NULL);
  ck_assert_int_eq(second.verify, X509_V_ERR_CERT_HAS_EXPIRED); /* new connections: the new one */

  char bad[600];
  ck_assert_int_eq(netem_proxy_tls_identity(f.p, "/nonexistent.pem", "/nonexistent.key", bad, sizeof bad), UV_EINVAL);
  ck_assert_msg(strstr(bad, "/nonexistent.pem") != NULL, "%s", bad);
  netem_proxy_close(f.p, NULL, NULL);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  shutdown(upstream_fd, SHUT_RDWR);
  close(upstream_fd);
  pthread_join(up, NULL);
  tmpdir_remove(dir);
}
END_TEST

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  Suite *s = suite_create("tls_proxy");
  TCase *tc = tcase_create("tls");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, switching_the_certificate_keeps_open_downloads_whole);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
