/* Tests of cloud/fwserver.c: the real server on a libuv loop, real HTTP over
 * 127.0.0.1 from libcurl. curl runs in a helper thread (its blocking easy API)
 * and wakes the loop with uv_async_send; the loop thread owns the server. */
#include "fwserver.h"

#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 16
#define WAIT_MS 8000 /* every wait in these tests ends by then */

typedef struct rec_event {
  char method[16], path[256], range[128], name[160], reason[64];
  int has_range, has_name;
  int status, signed_url, complete;
  uint64_t size, offset, length, sent;
} rec_event;

typedef struct env {
  uv_loop_t loop;
  fwserver *srv;
  char dir[64];
  char small[128], big[128]; /* paths of test files */
  unsigned char *big_data;
  size_t big_len;
  rec_event ev[MAX_EVENTS];
  int nev;
  int closed;
  int loop_closed;
  int close_in_cb; /* close the server from the event callback */
} env;

typedef struct fetch {
  /* in */
  char url[512];
  const char *range;
  int head;
  const char *method; /* custom method, or NULL */
  size_t abort_after; /* > 0: the write callback fails once this much arrived */
  int repeat;         /* perform the same handle this many times (keep-alive) */
  /* out */
  CURLcode rc;
  long status;
  long connects; /* new connections made by the last perform */
  unsigned char *body;
  size_t len, cap;
  char content_range[160];
  curl_off_t content_length;
  double elapsed;
  int done;
  uv_async_t async;
  pthread_t th;
} fetch;

static env E;

/* ---- helpers -------------------------------------------------------------- */

static void on_event(void *arg, const fwserver_event *ev) {
  env *e = arg;
  ck_assert_int_lt(e->nev, MAX_EVENTS);
  rec_event *r = &e->ev[e->nev++];
  memset(r, 0, sizeof *r);
  ck_assert_ptr_nonnull(ev->method);
  ck_assert_ptr_nonnull(ev->path);
  ck_assert_ptr_nonnull(ev->reason);
  snprintf(r->method, sizeof r->method, "%s", ev->method);
  snprintf(r->path, sizeof r->path, "%s", ev->path);
  snprintf(r->reason, sizeof r->reason, "%s", ev->reason);
  if (ev->range) {
    r->has_range = 1;
    snprintf(r->range, sizeof r->range, "%s", ev->range);
  }
  if (ev->name) {
    r->has_name = 1;
    snprintf(r->name, sizeof r->name, "%s", ev->name);
  }
  r->status = ev->status;
  r->signed_url = ev->signed_url;
  r->complete = ev->complete;
  r->size = ev->size;
  r->offset = ev->offset;
  r->length = ev->length;
  r->sent = ev->sent;
  if (e->close_in_cb) {
    fwserver_close(e->srv, NULL, NULL);
    e->closed = 1; /* the server is gone once the loop ran its close callbacks */
  }
}

static void write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(data, 1, len, f), len);
  ck_assert_int_eq(fclose(f), 0);
}

static void setup(void) {
  memset(&E, 0, sizeof E);
  ck_assert_int_eq(uv_loop_init(&E.loop), 0);
  snprintf(E.dir, sizeof E.dir, "/tmp/fwserver-test-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(E.dir));
  snprintf(E.small, sizeof E.small, "%s/small.bin", E.dir);
  snprintf(E.big, sizeof E.big, "%s/big.bin", E.dir);
  write_file(E.small, "hello firmware\n", 15);
  /* Pseudo-random bytes, an odd size spanning many 64 KiB blocks. */
  E.big_len = 3u * 1024 * 1024 + 12345;
  E.big_data = malloc(E.big_len);
  ck_assert_ptr_nonnull(E.big_data);
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < E.big_len; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    E.big_data[i] = (unsigned char)x;
  }
  write_file(E.big, E.big_data, E.big_len);
  char err[256] = "";
  ck_assert_msg(fwserver_start(&E.loop, "127.0.0.1", 0, &E.srv, err, sizeof err) == 0, "%s", err);
  ck_assert_uint_gt(fwserver_port(E.srv), 0);
  fwserver_on_event(E.srv, on_event, &E);
  ck_assert_msg(fwserver_add(E.srv, "big", E.big, 0, err, sizeof err) == 0, "%s", err);
  ck_assert_msg(fwserver_add(E.srv, "small", E.small, 0, err, sizeof err) == 0, "%s", err);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(p);
}

static void on_closed(void *arg) { ((env *)arg)->closed = 1; }

static void count_handle(uv_handle_t *h, void *arg) {
  (void)h;
  (*(int *)arg)++;
}

static void walk_close(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Closes the server (if still open), checks that nothing is left on the loop. */
static void close_and_check(env *e) {
  if (e->srv && !e->closed) {
    fwserver_close(e->srv, on_closed, e);
    for (int i = 0; i < 100 && !e->closed; i++) uv_run(&e->loop, UV_RUN_NOWAIT);
    ck_assert_msg(e->closed, "fwserver_close never called done");
  }
  e->srv = NULL;
  int n = 0;
  uv_walk(&e->loop, count_handle, &n);
  ck_assert_int_eq(n, 0);
  ck_assert_int_eq(uv_loop_close(&e->loop), 0);
  e->loop_closed = 1;
}

static void teardown(void) {
  /* If a test failed before closing, tidy up without asserting. */
  if (E.srv && !E.closed) {
    fwserver_close(E.srv, NULL, NULL);
    E.srv = NULL;
  }
  if (!E.loop_closed) {
    uv_walk(&E.loop, walk_close, NULL);
    uv_run(&E.loop, UV_RUN_DEFAULT);
    uv_loop_close(&E.loop);
  }
  nftw(E.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
  free(E.big_data);
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg) {
  fetch *f = arg;
  size_t len = sz * n;
  if (f->len + len > f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 65536;
    while (cap < f->len + len) cap *= 2;
    unsigned char *b = realloc(f->body, cap);
    if (!b) return 0;
    f->body = b;
    f->cap = cap;
  }
  memcpy(f->body + f->len, p, len);
  f->len += len;
  if (f->abort_after && f->len >= f->abort_after) return 0;
  return len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg) {
  fetch *f = arg;
  size_t len = sz * n;
  if (len > 15 && strncasecmp(p, "Content-Range: ", 15) == 0) {
    size_t v = len - 15;
    while (v > 0 && (p[15 + v - 1] == '\r' || p[15 + v - 1] == '\n')) v--;
    if (v >= sizeof f->content_range) v = sizeof f->content_range - 1;
    memcpy(f->content_range, p + 15, v);
    f->content_range[v] = '\0';
  }
  return len;
}

static void *fetch_thread(void *arg) {
  fetch *f = arg;
  CURL *c = curl_easy_init();
  if (!c) {
    f->rc = CURLE_FAILED_INIT;
  } else {
    curl_easy_setopt(c, CURLOPT_URL, f->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)WAIT_MS);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, f);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    struct curl_slist *hdrs = NULL;
    if (f->range) {
      char line[200];
      snprintf(line, sizeof line, "Range: %s", f->range);
      hdrs = curl_slist_append(hdrs, line);
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    }
    if (f->head) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (f->method) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, f->method);
    int times = f->repeat > 0 ? f->repeat : 1;
    for (int i = 0; i < times; i++) {
      f->content_range[0] = '\0';
      f->rc = curl_easy_perform(c);
      if (f->rc != CURLE_OK && f->rc != CURLE_PARTIAL_FILE && f->rc != CURLE_WRITE_ERROR)
        break;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f->status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &f->connects);
    curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &f->content_length);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &f->elapsed);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
  }
  uv_async_send(&f->async);
  return NULL;
}

static void on_async(uv_async_t *a) {
  fetch *f = a->data;
  f->done = 1;
}

static void fetch_url(fetch *f, const char *path) {
  snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u%s", (unsigned)fwserver_port(E.srv), path);
}

static void fetch_start(fetch *f) {
  ck_assert_int_eq(uv_async_init(&E.loop, &f->async, on_async), 0);
  f->async.data = f;
  ck_assert_int_eq(pthread_create(&f->th, NULL, fetch_thread, f), 0);
}

static void on_deadline(uv_timer_t *t) { *(int *)t->data = 1; }

/* Runs the loop until the fetches are done and `nev` events arrived, or WAIT_MS. */
static void wait_for(fetch **fs, int nf, int nev) {
  uv_timer_t deadline;
  int expired = 0;
  uv_timer_init(&E.loop, &deadline);
  deadline.data = &expired;
  uv_timer_start(&deadline, on_deadline, WAIT_MS + 2000, 0);
  for (;;) {
    int all = 1;
    for (int i = 0; i < nf; i++) all &= fs[i]->done;
    if ((all && E.nev >= nev) || expired) break;
    uv_run(&E.loop, UV_RUN_ONCE);
  }
  uv_close((uv_handle_t *)&deadline, NULL);
  for (int i = 0; i < nf; i++) {
    if (fs[i]->done) {
      pthread_join(fs[i]->th, NULL);
      uv_close((uv_handle_t *)&fs[i]->async, NULL);
    }
  }
  uv_run(&E.loop, UV_RUN_NOWAIT);
  ck_assert_msg(!expired, "timed out waiting for %d fetches and %d events (have %d)", nf, nev,
                E.nev);
}

/* One request, waited for with its event. The caller frees f->body. */
static void get(fetch *f, const char *path) {
  fetch_url(f, path);
  fetch_start(f);
  fetch *fs[1] = {f};
  wait_for(fs, 1, E.nev + (f->repeat > 0 ? f->repeat : 1));
}

static void md5(const void *p, size_t n, unsigned char out[16]) {
  unsigned int len = 0;
  ck_assert_int_eq(EVP_Digest(p, n, out, &len, EVP_md5(), NULL), 1);
  ck_assert_uint_eq(len, 16);
}

/* ---- tests ---------------------------------------------------------------- */

START_TEST(full_get_md5) {
  fetch f = {0};
  get(&f, "/fw/big");
  ck_assert_int_eq(f.rc, CURLE_OK);
  ck_assert_int_eq(f.status, 200);
  ck_assert_uint_eq(f.len, E.big_len);
  unsigned char a[16], b[16];
  md5(f.body, f.len, a);
  md5(E.big_data, E.big_len, b);
  ck_assert_mem_eq(a, b, 16);
  ck_assert_int_eq(E.nev, 1);
  rec_event *ev = &E.ev[0];
  ck_assert_str_eq(ev->method, "GET");
  ck_assert_str_eq(ev->path, "/fw/big");
  ck_assert_int_eq(ev->has_range, 0);
  ck_assert_str_eq(ev->name, "big");
  ck_assert_int_eq(ev->status, 200);
  ck_assert_uint_eq(ev->offset, 0);
  ck_assert_uint_eq(ev->length, E.big_len);
  ck_assert_uint_eq(ev->size, E.big_len);
  ck_assert_uint_eq(ev->sent, E.big_len);
  ck_assert_int_eq(ev->complete, 1);
  ck_assert_str_eq(ev->reason, "ok");
  free(f.body);
  close_and_check(&E);
}
END_TEST

START_TEST(range_closed) {
  fetch f = {.range = "bytes=100000-199999"};
  get(&f, "/fw/big");
  ck_assert_int_eq(f.rc, CURLE_OK);
  ck_assert_int_eq(f.status, 206);
  ck_assert_uint_eq(f.len, 100000);
  ck_assert_mem_eq(f.body, E.big_data + 100000, 100000);
  char want[80];
  snprintf(want, sizeof want, "bytes 100000-199999/%zu", E.big_len);
  ck_assert_str_eq(f.content_range, want);
  rec_event *ev = &E.ev[0];
  ck_assert_str_eq(ev->range, "bytes=100000-199999");
  ck_assert_int_eq(ev->status, 206);
  ck_assert_uint_eq(ev->offset, 100000);
  ck_assert_uint_eq(ev->length, 100000);
  ck_assert_uint_eq(ev->sent, 100000);
  ck_assert_int_eq(ev->complete, 1);
  free(f.body);

  /* An end past the file is clamped to the last byte. */
  fetch g = {.range = "bytes=3-999999999"};
  get(&g, "/fw/small");
  ck_assert_int_eq(g.status, 206);
  ck_assert_uint_eq(g.len, 12);
  ck_assert_mem_eq(g.body, "lo firmware\n", 12);
  ck_assert_str_eq(g.content_range, "bytes 3-14/15");
  free(g.body);
  close_and_check(&E);
}
END_TEST

START_TEST(range_open_and_suffix) {
  size_t from = E.big_len - 70000;
  char r1[64];
  snprintf(r1, sizeof r1, "bytes=%zu-", from);
  fetch f = {.range = r1};
  get(&f, "/fw/big");
  ck_assert_int_eq(f.status, 206);
  ck_assert_uint_eq(f.len, 70000);
  ck_assert_mem_eq(f.body, E.big_data + from, 70000);
  char want[80];
  snprintf(want, sizeof want, "bytes %zu-%zu/%zu", from, E.big_len - 1, E.big_len);
  ck_assert_str_eq(f.content_range, want);
  free(f.body);

  fetch g = {.range = "bytes=-300"};
  get(&g, "/fw/big");
  ck_assert_int_eq(g.status, 206);
  ck_assert_uint_eq(g.len, 300);
  ck_assert_mem_eq(g.body, E.big_data + E.big_len - 300, 300);
  ck_assert_uint_eq(E.ev[1].offset, E.big_len - 300);
  ck_assert_uint_eq(E.ev[1].length, 300);
  free(g.body);

  /* A suffix longer than the file is the whole file, still 206. */
  fetch h = {.range = "bytes=-1000"};
  get(&h, "/fw/small");
  ck_assert_int_eq(h.status, 206);
  ck_assert_uint_eq(h.len, 15);
  ck_assert_str_eq(h.content_range, "bytes 0-14/15");
  free(h.body);
  close_and_check(&E);
}
END_TEST

START_TEST(range_unsatisfiable_and_ignored) {
  fetch f = {.range = "bytes=15-"};
  get(&f, "/fw/small");
  ck_assert_int_eq(f.status, 416);
  ck_assert_str_eq(f.content_range, "bytes */15");
  ck_assert_int_eq(E.ev[0].status, 416);
  ck_assert_uint_eq(E.ev[0].sent, 0);
  free(f.body);

  fetch g = {.range = "bytes=-0"};
  get(&g, "/fw/small");
  ck_assert_int_eq(g.status, 416);
  free(g.body);

  /* Several ranges or nonsense: served whole. */
  fetch h = {.range = "bytes=0-1,5-6"};
  get(&h, "/fw/small");
  ck_assert_int_eq(h.status, 200);
  ck_assert_uint_eq(h.len, 15);
  free(h.body);
  fetch k = {.range = "bytes=9-3"};
  get(&k, "/fw/small");
  ck_assert_int_eq(k.status, 200);
  ck_assert_uint_eq(k.len, 15);
  free(k.body);
  close_and_check(&E);
}
END_TEST

START_TEST(head_request) {
  fetch f = {.head = 1};
  get(&f, "/fw/big");
  ck_assert_int_eq(f.rc, CURLE_OK);
  ck_assert_int_eq(f.status, 200);
  ck_assert_uint_eq(f.len, 0);
  ck_assert_int_eq(f.content_length, (curl_off_t)E.big_len);
  ck_assert_str_eq(E.ev[0].method, "HEAD");
  ck_assert_int_eq(E.ev[0].status, 200);
  ck_assert_uint_eq(E.ev[0].sent, 0);
  ck_assert_int_eq(E.ev[0].complete, 1);
  close_and_check(&E);
}
END_TEST

START_TEST(not_found_and_method) {
  fetch f = {0};
  get(&f, "/fw/nope");
  ck_assert_int_eq(f.status, 404);
  ck_assert_int_eq(E.ev[0].status, 404);
  ck_assert_int_eq(E.ev[0].has_name, 0);
  ck_assert_str_eq(E.ev[0].path, "/fw/nope");
  free(f.body);
  fetch g = {0};
  get(&g, "/elsewhere/big");
  ck_assert_int_eq(g.status, 404);
  free(g.body);
  fetch h = {.method = "DELETE"};
  get(&h, "/fw/big");
  ck_assert_int_eq(h.status, 405);
  ck_assert_str_eq(E.ev[2].method, "DELETE");
  free(h.body);
  close_and_check(&E);
}
END_TEST

START_TEST(signed_urls) {
  char url[512], bad[512];
  int64_t now = (int64_t)time(NULL);
  ck_assert_int_gt(fwserver_sign(E.srv, "big", now + 60, url, sizeof url), 0);
  fetch f = {0};
  get(&f, url);
  ck_assert_int_eq(f.status, 200);
  ck_assert_uint_eq(f.len, E.big_len);
  ck_assert_int_eq(E.ev[0].signed_url, 1);
  ck_assert_str_eq(E.ev[0].path, "/fw/big");
  free(f.body);

  ck_assert_int_gt(fwserver_sign(E.srv, "big", now - 5, url, sizeof url), 0);
  fetch g = {0};
  get(&g, url);
  ck_assert_int_eq(g.status, 403);
  ck_assert_str_eq(E.ev[1].reason, "expired signature");
  free(g.body);

  /* Flip one hex digit of the signature. */
  ck_assert_int_gt(fwserver_sign(E.srv, "big", now + 60, bad, sizeof bad), 0);
  char *last = bad + strlen(bad) - 1;
  *last = *last == '0' ? '1' : '0';
  fetch h = {0};
  get(&h, bad);
  ck_assert_int_eq(h.status, 403);
  ck_assert_str_eq(E.ev[2].reason, "bad signature");
  free(h.body);

  /* A later expiry with the old signature: tampered too. */
  ck_assert_int_gt(fwserver_sign(E.srv, "big", now + 60, url, sizeof url), 0);
  char *q = strstr(url, "expires=");
  ck_assert_ptr_nonnull(q);
  q[8] = q[8] == '9' ? '8' : (char)(q[8] + 1);
  fetch k = {0};
  get(&k, url);
  ck_assert_int_eq(k.status, 403);
  free(k.body);

  /* A signature for another image does not open this one. */
  ck_assert_int_gt(fwserver_sign(E.srv, "small", now + 60, url, sizeof url), 0);
  char moved[600];
  snprintf(moved, sizeof moved, "/fw/big%s", strchr(url, '?'));
  fetch m = {0};
  get(&m, moved);
  ck_assert_int_eq(m.status, 403);
  free(m.body);

  /* Signed-only images refuse unsigned requests, accept signed ones. */
  char err[256];
  ck_assert_int_eq(fwserver_add(E.srv, "locked", E.small, FWSERVER_SIGNED_ONLY, err, sizeof err), 0);
  fetch n = {0};
  get(&n, "/fw/locked");
  ck_assert_int_eq(n.status, 403);
  ck_assert_str_eq(E.ev[5].reason, "signature required");
  free(n.body);
  ck_assert_int_gt(fwserver_sign(E.srv, "locked", now + 60, url, sizeof url), 0);
  fetch o = {0};
  get(&o, url);
  ck_assert_int_eq(o.status, 200);
  ck_assert_uint_eq(o.len, 15);
  free(o.body);

  /* Too small an output buffer and bad names are refused. */
  ck_assert_int_eq(fwserver_sign(E.srv, "big", now, url, 20), -1);
  ck_assert_int_eq(fwserver_sign(E.srv, "../x", now, url, sizeof url), -1);
  close_and_check(&E);
}
END_TEST

START_TEST(fault_status_times) {
  fwserver_fault fl = {.status = 500, .truncate_after = -1, .times = 1};
  ck_assert_int_eq(fwserver_set_fault(E.srv, "big", &fl), 0);
  fetch f = {0};
  get(&f, "/fw/big");
  ck_assert_int_eq(f.status, 500);
  ck_assert_int_eq(E.ev[0].status, 500);
  ck_assert_str_eq(E.ev[0].reason, "fault: status");
  free(f.body);
  /* times = 1: the next request is healthy again. */
  fetch g = {0};
  get(&g, "/fw/big");
  ck_assert_int_eq(g.status, 200);
  ck_assert_uint_eq(g.len, E.big_len);
  free(g.body);
  /* A lasting fault until cleared. */
  fl.status = 503;
  fl.times = 0;
  ck_assert_int_eq(fwserver_set_fault(E.srv, "small", &fl), 0);
  for (int i = 0; i < 2; i++) {
    fetch h = {0};
    get(&h, "/fw/small");
    ck_assert_int_eq(h.status, 503);
    free(h.body);
  }
  ck_assert_int_eq(fwserver_set_fault(E.srv, "small", NULL), 0);
  fetch k = {0};
  get(&k, "/fw/small");
  ck_assert_int_eq(k.status, 200);
  free(k.body);
  /* Invalid faults and unknown names. */
  fl.status = 42;
  ck_assert_int_eq(fwserver_set_fault(E.srv, "small", &fl), -1);
  ck_assert_int_eq(fwserver_set_fault(E.srv, "nope", NULL), -1);
  close_and_check(&E);
}
END_TEST

START_TEST(fault_ignore_range) {
  fwserver_fault fl = {.ignore_range = 1, .truncate_after = -1};
  ck_assert_int_eq(fwserver_set_fault(E.srv, "big", &fl), 0);
  fetch f = {.range = "bytes=1000-1999"};
  get(&f, "/fw/big");
  ck_assert_int_eq(f.status, 200);
  ck_assert_uint_eq(f.len, E.big_len);
  ck_assert_str_eq(f.content_range, "");
  ck_assert_mem_eq(f.body, E.big_data, E.big_len);
  ck_assert_int_eq(E.ev[0].status, 200);
  ck_assert_str_eq(E.ev[0].range, "bytes=1000-1999");
  ck_assert_str_eq(E.ev[0].reason, "fault: range ignored");
  free(f.body);
  close_and_check(&E);
}
END_TEST

START_TEST(fault_truncate) {
  fwserver_fault fl = {.truncate_after = 100001};
  ck_assert_int_eq(fwserver_set_fault(E.srv, "big", &fl), 0);
  fetch f = {0};
  get(&f, "/fw/big");
  ck_assert_int_eq(f.rc, CURLE_PARTIAL_FILE);
  ck_assert_int_eq(f.status, 200);
  ck_assert_int_eq(f.content_length, (curl_off_t)E.big_len);
  ck_assert_uint_eq(f.len, 100001);
  ck_assert_mem_eq(f.body, E.big_data, 100001);
  ck_assert_int_eq(E.ev[0].complete, 0);
  ck_assert_uint_eq(E.ev[0].sent, 100001);
  ck_assert_str_eq(E.ev[0].reason, "fault: truncated");
  free(f.body);

  /* With a range, the cut counts body bytes of the response. */
  fetch g = {.range = "bytes=500000-"};
  get(&g, "/fw/big");
  ck_assert_int_eq(g.rc, CURLE_PARTIAL_FILE);
  ck_assert_int_eq(g.status, 206);
  ck_assert_uint_eq(g.len, 100001);
  ck_assert_mem_eq(g.body, E.big_data + 500000, 100001);
  free(g.body);
  close_and_check(&E);
}
END_TEST

START_TEST(fault_delay_does_not_block) {
  fwserver_fault fl = {.delay_ms = 600, .truncate_after = -1};
  ck_assert_int_eq(fwserver_set_fault(E.srv, "small", &fl), 0);
  fetch slow = {0}, fast = {0};
  fetch_url(&slow, "/fw/small");
  fetch_url(&fast, "/fw/big");
  uint64_t t0 = uv_hrtime();
  fetch_start(&slow);
  fetch *one[1] = {&fast};
  fetch_start(&fast);
  wait_for(one, 1, 1);
  uint64_t t_fast = uv_hrtime() - t0;
  fetch *two[1] = {&slow};
  wait_for(two, 1, 2);
  uint64_t t_slow = uv_hrtime() - t0;
  ck_assert_int_eq(fast.status, 200);
  ck_assert_int_eq(slow.status, 200);
  ck_assert_uint_eq(slow.len, 15);
  ck_assert_msg(t_slow >= 580ull * 1000000, "delayed reply came after %llu ms",
                (unsigned long long)(t_slow / 1000000));
  ck_assert_msg(t_fast < t_slow, "the undelayed download waited for the delayed one");
  ck_assert_str_eq(E.ev[0].name, "big");
  ck_assert_str_eq(E.ev[1].name, "small");
  free(slow.body);
  free(fast.body);
  close_and_check(&E);
}
END_TEST

START_TEST(client_abort_counts_bytes) {
  /* 64 MiB (sparse) is more than loopback socket buffers hold, so the client
   * really leaves before the server could hand everything to the kernel. */
  char path[128], err[256];
  snprintf(path, sizeof path, "%s/sparse.bin", E.dir);
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
  ck_assert_int_ge(fd, 0);
  uint64_t size = 64ull << 20;
  ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
  close(fd);
  ck_assert_msg(fwserver_add(E.srv, "sparse", path, 0, err, sizeof err) == 0, "%s", err);
  fetch f = {.abort_after = 100000};
  get(&f, "/fw/sparse");
  ck_assert_int_eq(f.rc, CURLE_WRITE_ERROR);
  rec_event *ev = &E.ev[0];
  ck_assert_int_eq(ev->complete, 0);
  ck_assert_int_eq(ev->status, 200);
  ck_assert_uint_ge(ev->sent, 65536); /* at least the first buffer left */
  ck_assert_uint_lt(ev->sent, size);
  ck_assert_uint_eq(ev->length, size);
  ck_assert_str_eq(ev->reason, "connection lost");
  free(f.body);
  close_and_check(&E);
}
END_TEST

START_TEST(keep_alive_two_requests) {
  fetch f = {.repeat = 2};
  get(&f, "/fw/small");
  ck_assert_int_eq(f.rc, CURLE_OK);
  ck_assert_int_eq(f.status, 200);
  ck_assert_int_eq(f.connects, 0); /* the second request reused the connection */
  ck_assert_uint_eq(f.len, 30);
  ck_assert_int_eq(E.nev, 2);
  ck_assert_int_eq(E.ev[1].complete, 1);
  free(f.body);
  close_and_check(&E);
}
END_TEST

START_TEST(beyond_4gib_sparse) {
  /* A sparse 5 GiB image: offsets past 32 bits stream without loading anything. */
  char path[128];
  snprintf(path, sizeof path, "%s/huge.bin", E.dir);
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
  ck_assert_int_ge(fd, 0);
  uint64_t size = 5ull << 30;
  if (ftruncate(fd, (off_t)size) != 0) {
    close(fd);
    close_and_check(&E);
    return; /* a filesystem without sparse files: nothing to prove here */
  }
  ck_assert_int_eq(pwrite(fd, "TAILBYTES", 9, (off_t)(size - 9)), 9);
  close(fd);
  char err[256];
  ck_assert_msg(fwserver_add(E.srv, "huge", path, 0, err, sizeof err) == 0, "%s", err);
  fetch f = {.range = "bytes=-9"};
  get(&f, "/fw/huge");
  ck_assert_int_eq(f.status, 206);
  ck_assert_uint_eq(f.len, 9);
  ck_assert_mem_eq(f.body, "TAILBYTES", 9);
  ck_assert_str_eq(f.content_range, "bytes 5368709111-5368709119/5368709120");
  free(f.body);
  fetch h = {.head = 1};
  get(&h, "/fw/huge");
  ck_assert_int_eq(h.content_length, (curl_off_t)size);
  close_and_check(&E);
}
END_TEST

START_TEST(add_remove_clear) {
  char err[256] = "";
  ck_assert_int_eq(fwserver_add(E.srv, "../etc", E.small, 0, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "invalid image name"));
  ck_assert_int_eq(fwserver_add(E.srv, "x", "/nonexistent/file", 0, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "/nonexistent/file"));
  ck_assert_int_eq(fwserver_add(E.srv, "x", E.dir, 0, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
  ck_assert_int_eq(fwserver_add(E.srv, "x", E.small, 0x80, err, sizeof err), -1);

  /* Re-adding a name replaces the file. */
  ck_assert_int_eq(fwserver_add(E.srv, "small", E.big, 0, err, sizeof err), 0);
  fetch f = {0};
  get(&f, "/fw/small");
  ck_assert_uint_eq(f.len, E.big_len);
  free(f.body);
  fwserver_remove(E.srv, "small");
  fetch g = {0};
  get(&g, "/fw/small");
  ck_assert_int_eq(g.status, 404);
  free(g.body);
  fwserver_clear(E.srv);
  fetch h = {0};
  get(&h, "/fw/big");
  ck_assert_int_eq(h.status, 404);
  free(h.body);
  fwserver_remove(E.srv, "never-there");
  close_and_check(&E);
}
END_TEST

START_TEST(start_errors) {
  fwserver *s = NULL;
  char err[256] = "";
  ck_assert_int_eq(fwserver_start(&E.loop, "0.0.0.0", 0, &s, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "not loopback"));
  ck_assert_ptr_null(s);
  /* The port the fixture's server holds is busy. */
  ck_assert_int_eq(fwserver_start(&E.loop, "127.0.0.1", fwserver_port(E.srv), &s, err, sizeof err),
                   -1);
  ck_assert_ptr_nonnull(strstr(err, "cannot listen"));
  close_and_check(&E);
}
END_TEST

START_TEST(close_cuts_delayed_request) {
  fwserver_fault fl = {.delay_ms = 5000, .truncate_after = -1};
  ck_assert_int_eq(fwserver_set_fault(E.srv, "small", &fl), 0);
  fetch f = {0};
  fetch_url(&f, "/fw/small");
  fetch_start(&f);
  /* Wait until the server has parked the request, then close under it. */
  uint64_t t0 = uv_hrtime();
  while (uv_hrtime() - t0 < 300ull * 1000000) {
    uv_run(&E.loop, UV_RUN_NOWAIT);
    usleep(5000);
  }
  ck_assert_int_eq(E.nev, 0);
  fwserver_close(E.srv, on_closed, &E);
  fetch *fs[1] = {&f};
  wait_for(fs, 1, 1);
  ck_assert(E.closed);
  ck_assert_int_ne(f.rc, CURLE_OK);
  ck_assert_int_eq(E.ev[0].complete, 0);
  ck_assert_str_eq(E.ev[0].reason, "server stopped");
  ck_assert_msg(uv_hrtime() - t0 < 4000ull * 1000000, "close waited for the delay");
  close_and_check(&E);
}
END_TEST

/* Pumps the loop for `ms` without a fetch to wait for: lets requests get parked. */
static void pump_ms(unsigned ms) {
  uint64_t t0 = uv_hrtime();
  while (uv_hrtime() - t0 < (uint64_t)ms * 1000000) {
    uv_run(&E.loop, UV_RUN_NOWAIT);
    usleep(5000);
  }
}

START_TEST(remove_cuts_delayed_request) {
  /* A request parked by a delay must not outlive its image (the runner removes a
   * case's images when the case ends): remove and clear answer it 503 at once. */
  fwserver_fault fl = {.delay_ms = 5000, .truncate_after = -1};
  ck_assert_int_eq(fwserver_set_fault(E.srv, "small", &fl), 0);
  ck_assert_int_eq(fwserver_set_fault(E.srv, "big", &fl), 0);
  fetch a = {0}, b = {0};
  fetch_url(&a, "/fw/small");
  fetch_url(&b, "/fw/big");
  fetch_start(&a);
  fetch_start(&b);
  pump_ms(300);
  ck_assert_int_eq(E.nev, 0);

  uint64_t t0 = uv_hrtime();
  fwserver_remove(E.srv, "small");
  fetch *fa[1] = {&a};
  wait_for(fa, 1, 1);
  uint64_t took = (uv_hrtime() - t0) / 1000000;
  ck_assert_msg(took < 1500, "the removed image's request waited %llu ms", (unsigned long long)took);
  ck_assert_int_eq(a.rc, CURLE_OK);
  ck_assert_int_eq(a.status, 503);
  ck_assert_ptr_nonnull(a.body);
  ck_assert_ptr_nonnull(memmem(a.body, a.len, "image removed", 13));
  ck_assert_int_eq(E.nev, 1);
  ck_assert_str_eq(E.ev[0].name, "small");
  ck_assert_int_eq(E.ev[0].status, 503);
  ck_assert_str_eq(E.ev[0].reason, "image removed");
  ck_assert_uint_eq(E.ev[0].sent, 0);
  ck_assert_msg(!b.done, "removing 'small' cut the request for 'big' too");

  t0 = uv_hrtime();
  fwserver_clear(E.srv);
  fetch *fb[1] = {&b};
  wait_for(fb, 1, 2);
  took = (uv_hrtime() - t0) / 1000000;
  ck_assert_msg(took < 1500, "clear left a parked request waiting %llu ms", (unsigned long long)took);
  ck_assert_int_eq(b.status, 503);
  ck_assert_str_eq(E.ev[1].name, "big");
  ck_assert_str_eq(E.ev[1].reason, "image removed");
  free(a.body);
  free(b.body);
  close_and_check(&E);
}
END_TEST

START_TEST(close_from_event_callback) {
  E.close_in_cb = 1;
  fetch f = {0};
  get(&f, "/fw/small");
  ck_assert_int_eq(f.status, 200);
  /* The server is gone once the loop has run its close callbacks. */
  uv_run(&E.loop, UV_RUN_NOWAIT);
  int n = 0;
  uv_walk(&E.loop, count_handle, &n);
  ck_assert_int_eq(n, 0);
  E.closed = 1;
  free(f.body);
  close_and_check(&E);
}
END_TEST


/* ---- clients that hold connections --------------------------------------- */

/* Opens n TCP connections to the server from `src` (an address of 127/8),
 * non-blocking, sending nothing; the loop accepts them as it runs. */
static int *hold_open(int n, const char *src) {
  int *fds = calloc((size_t)n, sizeof *fds);
  ck_assert_ptr_nonnull(fds);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(fwserver_port(E.srv))};
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct sockaddr_in from = {.sin_family = AF_INET};
  ck_assert_int_eq(inet_pton(AF_INET, src, &from.sin_addr), 1);
  for (int i = 0; i < n; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fds[i], 0);
    ck_assert_int_eq(bind(fds[i], (struct sockaddr *)&from, sizeof from), 0);
    int rc = connect(fds[i], (struct sockaddr *)&to, sizeof to);
    ck_assert(rc == 0 || errno == EINPROGRESS);
    if (i % 64 == 63) uv_run(&E.loop, UV_RUN_NOWAIT); /* accept as they come */
  }
  return fds;
}

static void let_go(int *fds, int n) {
  for (int i = 0; i < n; i++) close(fds[i]);
  free(fds);
}

/* Runs the loop for ms. */
static void run_for(unsigned ms) {
  uv_timer_t t;
  int expired = 0;
  uv_timer_init(&E.loop, &t);
  t.data = &expired;
  uv_timer_start(&t, on_deadline, ms, 0);
  while (!expired) uv_run(&E.loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&E.loop, UV_RUN_NOWAIT);
}

/* 1100 connections that never send a byte (a probe held them, from the same
 * loopback address as every device behind the proxy): a normal request is
 * still answered, within a second. MHD's default cap (1020) refused it. */
START_TEST(idle_connections_do_not_starve_a_request) {
  int *fds = hold_open(1100, "127.0.0.1");
  run_for(300);
  fwserver_stats st;
  fwserver_get_stats(E.srv, &st);
  ck_assert_uint_ge(st.open, 1100);
  fetch f = {0};
  get(&f, "/fw/small");
  ck_assert_msg(f.rc == CURLE_OK && f.status == 200, "curl %d, status %ld", f.rc, f.status);
  ck_assert_msg(f.elapsed < 1.0, "answered after %.3f s", f.elapsed);
  free(f.body);
  let_go(fds, 1100);
  close_and_check(&E);
}
END_TEST

typedef struct notices {
  int n;
  char last[256];
} notices;

static void on_notice(void *arg, const char *line) {
  notices *k = arg;
  k->n++;
  snprintf(k->last, sizeof k->last, "%s", line);
}

/* The limits: beyond max_per_address from one address its connections are
 * refused (counted and told), others are still served, and a connection that
 * sends no request within head_timeout_s is closed. */
START_TEST(limits_refuse_and_time_out) {
  notices k = {0};
  fwserver_on_notice(E.srv, on_notice, &k);
  fwserver_limits lim = {.max_connections = 40, .max_per_address = 20, .head_timeout_s = 1};
  fwserver_set_limits(E.srv, &lim);
  int *fds = hold_open(30, "127.0.0.2");
  run_for(300);
  fwserver_stats st;
  fwserver_get_stats(E.srv, &st);
  ck_assert_uint_eq(st.open, 20);
  ck_assert_uint_eq(st.refused_per_address, 10);
  ck_assert_int_ge(k.n, 1);
  ck_assert_msg(strstr(k.last, "refused") && strstr(k.last, "127.0.0.2"), "%s", k.last);
  fetch f = {0};
  get(&f, "/fw/small"); /* from 127.0.0.1 */
  ck_assert_int_eq(f.rc, CURLE_OK);
  ck_assert_int_eq(f.status, 200);
  free(f.body);
  /* the idle ones go after the head timeout; the served request was not idle */
  run_for(2500);
  fwserver_get_stats(E.srv, &st);
  ck_assert_uint_eq(st.no_request, 20);
  ck_assert_uint_le(st.open, 1); /* curl's keep-alive connection may still be open */
  /* and the address may connect again */
  let_go(fds, 30);
  fds = hold_open(5, "127.0.0.2");
  run_for(200);
  fwserver_get_stats(E.srv, &st);
  ck_assert_uint_eq(st.refused_per_address, 10);
  let_go(fds, 5);
  /* in all: max_connections */
  lim.max_per_address = 100;
  lim.max_connections = 8;
  fwserver_set_limits(E.srv, &lim);
  run_for(1500); /* the 5 time out */
  fds = hold_open(12, "127.0.0.3");
  run_for(300);
  fwserver_get_stats(E.srv, &st);
  ck_assert_uint_le(st.open, 8);
  ck_assert_uint_ge(st.refused_total, 4);
  let_go(fds, 12);
  close_and_check(&E);
}
END_TEST

START_TEST(ipv6_loopback) {
  int sfd = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  int have6 = sfd >= 0 && bind(sfd, (struct sockaddr *)&a, sizeof a) == 0;
  if (sfd >= 0) close(sfd);
  if (!have6) { /* no ::1 in this container: nothing to test */
    close_and_check(&E);
    return;
  }
  fwserver *s6 = NULL;
  char err[256];
  ck_assert_msg(fwserver_start(&E.loop, "::1", 0, &s6, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(fwserver_add(s6, "small", E.small, 0, err, sizeof err), 0);
  fwserver_on_event(s6, on_event, &E);
  fetch f = {0};
  snprintf(f.url, sizeof f.url, "http://[::1]:%u/fw/small", (unsigned)fwserver_port(s6));
  fetch_start(&f);
  fetch *fs[1] = {&f};
  wait_for(fs, 1, 1);
  ck_assert_int_eq(f.status, 200);
  ck_assert_uint_eq(f.len, 15);
  free(f.body);
  env six = {0};
  fwserver_close(s6, on_closed, &six);
  for (int i = 0; i < 100 && !six.closed; i++) uv_run(&E.loop, UV_RUN_NOWAIT);
  ck_assert(six.closed);
  close_and_check(&E);
}
END_TEST

static Suite *fwserver_suite(void) {
  Suite *s = suite_create("fwserver");
  TCase *tc = tcase_create("http");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, full_get_md5);
  tcase_add_test(tc, range_closed);
  tcase_add_test(tc, range_open_and_suffix);
  tcase_add_test(tc, range_unsatisfiable_and_ignored);
  tcase_add_test(tc, head_request);
  tcase_add_test(tc, not_found_and_method);
  tcase_add_test(tc, signed_urls);
  tcase_add_test(tc, fault_status_times);
  tcase_add_test(tc, fault_ignore_range);
  tcase_add_test(tc, fault_truncate);
  tcase_add_test(tc, fault_delay_does_not_block);
  tcase_add_test(tc, client_abort_counts_bytes);
  tcase_add_test(tc, keep_alive_two_requests);
  tcase_add_test(tc, beyond_4gib_sparse);
  tcase_add_test(tc, add_remove_clear);
  tcase_add_test(tc, start_errors);
  tcase_add_test(tc, close_cuts_delayed_request);
  tcase_add_test(tc, remove_cuts_delayed_request);
  tcase_add_test(tc, close_from_event_callback);
  tcase_add_test(tc, idle_connections_do_not_starve_a_request);
  tcase_add_test(tc, limits_refuse_and_time_out);
  tcase_add_test(tc, ipv6_loopback);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  SRunner *sr = srunner_create(fwserver_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  curl_global_cleanup();
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
