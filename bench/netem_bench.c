/* netem_bench: figures for the proxy (prints them; not a timed test).
 *   1. throughput of a 256 MiB HTTP download through netem-standalone --http (no fault)
 *      against the same download direct, in one run, as a ratio (goal >= 0.9): the median
 *      of interleaved rounds, also through the copy path (--no-splice), with the CPU time
 *      each path costs (the endpoints are this process's two threads; the proxy its own),
 *      and through bare_relay.c, the yardstick of what any user-space relay gets here;
 *      then the same download through the parts a scenario uses: fwserver -> libcurl
 *   2. added latency of an MQTT publish through netem-standalone --mqtt: p50 and p99 of
 *      publish->delivery through the proxy minus direct (goal p99 < 0.5 ms)
 *   3. memory (VmRSS) of the proxy process with 100 open connections
 * usage: netem_bench [MiB]   (the proxy and mosquitto run as child processes) */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <curl/curl.h>

#include "bare_relay.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  perror(what);
  exit(3);
}

static int listen_any(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 256)) die("listen");
  socklen_t l = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &l);
  *port = ntohs(a.sin_port);
  return fd;
}

static int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  for (int i = 0; i < 200; i++) {
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return fd;
    }
    usleep(10000);
    close(fd);
    fd = socket(AF_INET, SOCK_STREAM, 0);
  }
  die("connect");
  return -1;
}

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, void *p, size_t n) {
  char *c = p;
  while (n) {
    ssize_t r = read(fd, c, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    c += r;
    n -= (size_t)r;
  }
  return 0;
}

/* ---- child processes ---- */

struct child {
  pid_t pid;
  int port;
};

/* Starts netem-standalone and reads its "listening HOST:PORT" line. extra: NULL or one more
 * option. */
static struct child start_netem(const char *view, int upstream, const char *extra) {
  int pfd[2];
  if (pipe(pfd)) die("pipe");
  char up[64];
  snprintf(up, sizeof up, "127.0.0.1:%d", upstream);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pfd[1], 1);
    close(pfd[0]);
    execl(NETEM_STANDALONE, "netem-standalone", "--listen", "127.0.0.1:0", "--upstream", up, view, "--quiet",
          extra, (char *)NULL);
    _exit(127);
  }
  close(pfd[1]);
  char line[256];
  size_t n = 0;
  while (n < sizeof line - 1) {
    ssize_t r = read(pfd[0], line + n, 1);
    if (r <= 0 || line[n] == '\n') break;
    n++;
  }
  line[n] = 0;
  close(pfd[0]); /* --quiet prints nothing more without faults */
  char *colon = strchr(line, ':');
  if (strncmp(line, "listening ", 10) != 0 || !colon) {
    fprintf(stderr, "netem did not start: '%s'\n", line);
    exit(3);
  }
  struct child c = {pid, (int)strtol(colon + 1, NULL, 10)};
  return c;
}

static void stop(struct child c) {
  kill(c.pid, SIGTERM);
  int st;
  waitpid(c.pid, &st, 0);
}

/* CPU seconds (user + system) a process used so far; this process: both threads. */
static double cpu_s(pid_t pid) {
  if (pid == 0) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  }
  char path[64], text[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = 0;
  /* fields 14 and 15 (utime, stime in clock ticks) after the ")" that ends the name */
  char *p = strrchr(text, ')');
  for (int field = 2; p && field < 14; field++) p = strchr(p + 1, ' ');
  if (!p) return -1;
  char *end;
  double ut = (double)strtoull(p + 1, &end, 10), st = (double)strtoull(end, NULL, 10);
  return (ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long rss_kib(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long v = -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0) v = strtol(line + 6, NULL, 10);
  fclose(f);
  return v;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- 1. throughput ---- */

static size_t g_bytes;
static int g_http_listen;

/* Serves one GET per connection: head + g_bytes of body, then closes. */
static void *http_server(void *arg) {
  (void)arg;
  static char buf[1 << 20];
  memset(buf, 'z', sizeof buf);
  for (;;) {
    int fd = accept(g_http_listen, NULL, NULL);
    if (fd < 0) return NULL;
    char req[4096];
    size_t got = 0;
    while (got < sizeof req && !memmem(req, got, "\r\n\r\n", 4)) {
      ssize_t r = read(fd, req + got, sizeof req - got);
      if (r <= 0) break;
      got += (size_t)r;
    }
    char head[128];
    int hl = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", g_bytes);
    write_all(fd, head, (size_t)hl);
    for (size_t left = g_bytes; left;) {
      size_t n = left < sizeof buf ? left : sizeof buf;
      if (write_all(fd, buf, n)) break;
      left -= n;
    }
    close(fd);
  }
}

static double download(int port) {
  int fd = connect_to(port);
  const char *req = "GET /fw HTTP/1.1\r\nHost: bench\r\n\r\n";
  double t0 = now_s();
  write_all(fd, req, strlen(req));
  static char buf[1 << 20];
  size_t total = 0;
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r <= 0) break;
    total += (size_t)r;
  }
  double dt = now_s() - t0;
  close(fd);
  if (total < g_bytes) {
    fprintf(stderr, "download got %zu bytes of %zu\n", total, g_bytes);
    exit(3);
  }
  return dt;
}

/* ---- 2. MQTT latency ---- */

static size_t mqtt_packet(uint8_t *out, uint8_t first, const uint8_t *body, size_t n) {
  size_t i = 0;
  out[i++] = first;
  size_t rl = n;
  do {
    uint8_t b = rl & 0x7f;
    rl >>= 7;
    out[i++] = (uint8_t)(b | (rl ? 0x80 : 0));
  } while (rl);
  memcpy(out + i, body, n);
  return i + n;
}

static void mqtt_read(int fd, uint8_t *type, uint8_t *body, size_t cap, size_t *n) {
  uint8_t h;
  if (read_all(fd, &h, 1)) die("mqtt read");
  size_t rl = 0;
  for (int shift = 0;; shift += 7) {
    uint8_t b;
    if (read_all(fd, &b, 1)) die("mqtt read");
    rl |= (size_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  if (rl > cap) die("mqtt packet too big");
  if (rl && read_all(fd, body, rl)) die("mqtt read");
  *type = h >> 4;
  *n = rl;
}

static int mqtt_connect(int port, const char *id) {
  int fd = connect_to(port);
  uint8_t b[64], out[80];
  size_t k = 0;
  b[k++] = 0, b[k++] = 4, memcpy(b + k, "MQTT", 4), k += 4;
  b[k++] = 4, b[k++] = 2, b[k++] = 0, b[k++] = 60;
  b[k++] = 0, b[k++] = (uint8_t)strlen(id), memcpy(b + k, id, strlen(id)), k += strlen(id);
  write_all(fd, out, mqtt_packet(out, 0x10, b, k));
  uint8_t type, body[16];
  size_t n;
  mqtt_read(fd, &type, body, sizeof body, &n);
  if (type != 2 || body[1] != 0) die("CONNACK");
  return fd;
}


/* ---- 1b. the real stack: otahil's firmware server and libcurl ---- */

static size_t count_bytes(char *p, size_t size, size_t n, void *arg) {
  (void)p;
  *(size_t *)arg += size * n;
  return size * n;
}

static double curl_download(int port) {
  char url[96];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/fw/bench", port);
  CURL *h = curl_easy_init();
  size_t total = 0;
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, count_bytes);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &total);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
  double t0 = now_s();
  CURLcode rc = curl_easy_perform(h);
  double dt = now_s() - t0;
  curl_easy_cleanup(h);
  if (rc != CURLE_OK || total != g_bytes) {
    fprintf(stderr, "curl download: %s, %zu bytes of %zu\n", curl_easy_strerror(rc), total, g_bytes);
    exit(3);
  }
  return dt;
}

/* Starts bench/fw_serve on a file of g_bytes; *file is removed by the caller. */
static struct child start_fw_serve(char *file) {
  int fd = mkstemp(file);
  static char buf[1 << 20];
  memset(buf, 'f', sizeof buf);
  for (size_t left = g_bytes; left;) {
    size_t n = left < sizeof buf ? left : sizeof buf;
    if (fd < 0 || write_all(fd, buf, n)) die("firmware file");
    left -= n;
  }
  close(fd);
  int pfd[2];
  if (pipe(pfd)) die("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pfd[1], 1);
    close(pfd[0]);
    execl(FW_SERVE, "fw_serve", file, (char *)NULL);
    _exit(127);
  }
  close(pfd[1]);
  char line[128];
  ssize_t n = read(pfd[0], line, sizeof line - 1);
  close(pfd[0]);
  line[n > 0 ? n : 0] = 0;
  char *colon = strchr(line, ':');
  if (strncmp(line, "listening ", 10) != 0 || !colon) {
    fprintf(stderr, "fw_serve did not start: '%s'\n", line);
    exit(3);
  }
  struct child c = {pid, (int)strtol(colon + 1, NULL, 10)};
  return c;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
  g_bytes = mib << 20;
  curl_global_init(CURL_GLOBAL_DEFAULT);

  /* 1. throughput: direct, through the proxy, through its copy path, through the bare
     relay; rounds interleaved so that the machine's other load falls on all alike; the
     median of each */
  int hport;
  g_http_listen = listen_any(&hport);
  pthread_t th;
  pthread_create(&th, NULL, http_server, NULL);
  enum { PATHS = 4, ROUNDS = 7 };
  struct child via[PATHS] = {{0, hport}};
  via[1] = start_netem("--http", hport, NULL);
  via[2] = start_netem("--http", hport, "--no-splice");
  via[3].pid = bare_relay_start(hport, &via[3].port);
  for (int path = 0; path < PATHS; path++) download(via[path].port); /* warm-up */
  double t[PATHS][ROUNDS], cpu_ends[PATHS][ROUNDS], cpu_proxy[PATHS][ROUNDS];
  for (int i = 0; i < ROUNDS; i++) {
    for (int path = 0; path < PATHS; path++) {
      double e0 = cpu_s(0), p0 = path ? cpu_s(via[path].pid) : 0;
      t[path][i] = download(via[path].port);
      cpu_ends[path][i] = cpu_s(0) - e0;
      cpu_proxy[path][i] = path ? cpu_s(via[path].pid) - p0 : 0;
    }
  }
  long rss_after_dl = rss_kib(via[1].pid);
  for (int path = 1; path < PATHS; path++) stop(via[path]);
  double tm[PATHS], best[PATHS], ce[PATHS], cp[PATHS];
  for (int path = 0; path < PATHS; path++) {
    tm[path] = median(t[path], ROUNDS);
    best[path] = t[path][0]; /* sorted by median() */
    ce[path] = median(cpu_ends[path], ROUNDS);
    cp[path] = median(cpu_proxy[path], ROUNDS);
  }
  printf("throughput with no fault (the splice path): %zu MiB, median of %d rounds: direct %.3f s (%.0f MiB/s), through proxy %.3f s (%.0f MiB/s), "
         "ratio %.2f (goal >= 0.9); best of %d: ratio %.2f\n",
         mib, ROUNDS, tm[0], (double)mib / tm[0], tm[1], (double)mib / tm[1], tm[0] / tm[1], ROUNDS, best[0] / best[1]);
  printf("copy path (--no-splice; what a connection uses while a fault is set): %.3f s (%.0f MiB/s), ratio %.2f\n", tm[2], (double)mib / tm[2], tm[0] / tm[2]);
  printf("yardstick, a bare blocking splice relay (no views, no loop): %.3f s (%.0f MiB/s), ratio %.2f; "
         "the proxy reaches %.0f%% of it\n",
         tm[3], (double)mib / tm[3], tm[0] / tm[3], 100.0 * tm[3] / tm[1]);
  printf("cpu seconds per download (median): direct: endpoints %.3f; through proxy: endpoints %.3f + proxy %.3f; "
         "copy path: endpoints %.3f + proxy %.3f; bare relay: endpoints %.3f + relay %.3f\n",
         ce[0], ce[1], cp[1], ce[2], cp[2], ce[3], cp[3]);
  printf("proxy RSS after the downloads: %ld KiB\n", rss_after_dl);

  /* 1b. the same through the parts a scenario uses: fwserver -> netem -> libcurl */
  char fw_file[] = "/tmp/netem_bench_fw.XXXXXX";
  struct child fw = start_fw_serve(fw_file);
  struct child rv[3] = {fw, start_netem("--http", fw.port, NULL), {0, 0}};
  rv[2].pid = bare_relay_start(fw.port, &rv[2].port);
  for (int path = 0; path < 3; path++) curl_download(rv[path].port); /* warm-up */
  double rt[3][ROUNDS];
  for (int i = 0; i < ROUNDS; i++)
    for (int path = 0; path < 3; path++) rt[path][i] = curl_download(rv[path].port);
  for (int path = 0; path < 3; path++) stop(rv[path]);
  unlink(fw_file);
  double rm[3];
  for (int path = 0; path < 3; path++) rm[path] = median(rt[path], ROUNDS);
  printf("real stack (otahil's firmware server -> libcurl), median of %d: direct %.3f s (%.0f MiB/s), through proxy "
         "%.3f s (%.0f MiB/s), ratio %.2f; bare relay %.3f s, ratio %.2f; the proxy reaches %.0f%% of it\n",
         ROUNDS, rm[0], (double)mib / rm[0], rm[1], (double)mib / rm[1], rm[0] / rm[1], rm[2], rm[0] / rm[2],
         100.0 * rm[2] / rm[1]);

  /* 3. memory at 100 open connections (to an upstream that accepts and holds) */
  struct child px = start_netem("--http", hport, NULL);
  usleep(100000);
  long rss0 = rss_kib(px.pid);
  int fds[100];
  for (int i = 0; i < 100; i++) fds[i] = connect_to(px.port);
  for (int i = 0; i < 100; i++) write_all(fds[i], "GET /x HTTP/1.1\r\n", 17); /* a started request each */
  usleep(300000);
  long rss100 = rss_kib(px.pid);
  printf("memory: proxy VmRSS %ld KiB idle, %ld KiB with 100 open connections (+%ld KiB, %.1f KiB each)\n", rss0,
         rss100, rss100 - rss0, (double)(rss100 - rss0) / 100.0);
  for (int i = 0; i < 100; i++) close(fds[i]);
  stop(px);
  close(g_http_listen);

  /* 2. MQTT publish latency: broker direct vs publisher through the proxy */
  int mport;
  int tmp = listen_any(&mport);
  close(tmp);
  char conf[] = "/tmp/netem_bench_mosq.XXXXXX";
  int cfd = mkstemp(conf);
  char text[128];
  int tl = snprintf(text, sizeof text, "listener %d 127.0.0.1\nallow_anonymous true\n", mport);
  write_all(cfd, text, (size_t)tl);
  close(cfd);
  pid_t mosq = fork();
  if (mosq == 0) {
    int devnull = open("/dev/null", 1);
    dup2(devnull, 2);
    dup2(devnull, 1);
    execl(MOSQUITTO, "mosquitto", "-c", conf, (char *)NULL);
    _exit(127);
  }
  px = start_netem("--mqtt", mport, NULL);
  int sub = mqtt_connect(mport, "bench-sub");
  uint8_t b[64], out[128];
  size_t k = 0;
  b[k++] = 0, b[k++] = 1, b[k++] = 0, b[k++] = 3, memcpy(b + k, "b/t", 3), k += 3, b[k++] = 0;
  write_all(sub, out, mqtt_packet(out, 0x82, b, k));
  uint8_t type, body[256];
  size_t n;
  mqtt_read(sub, &type, body, sizeof body, &n);
  if (type != 9) die("SUBACK");
  int pub_direct = mqtt_connect(mport, "bench-pub-direct");
  int pub_proxy = mqtt_connect(px.port, "bench-pub-proxy");
  enum { N = 2000 };
  static double lat[2][N];
  k = 0;
  b[k++] = 0, b[k++] = 3, memcpy(b + k, "b/t", 3), k += 3;
  memcpy(b + k, "0123456789abcdef", 16), k += 16;
  size_t plen = mqtt_packet(out, 0x30, b, k);
  for (int i = 0; i < N + 200; i++) {
    for (int via = 0; via < 2; via++) {
      double t0 = now_s();
      write_all(via ? pub_proxy : pub_direct, out, plen);
      mqtt_read(sub, &type, body, sizeof body, &n);
      double dt = now_s() - t0;
      if (type != 3) die("PUBLISH expected");
      if (i >= 200) lat[via][i - 200] = dt; /* the first 200 warm up */
    }
  }
  /* each round sends one message each way in turn: the added latency is the percentile of
     the per-round differences, not the difference of two percentiles */
  static double added[N];
  for (int i = 0; i < N; i++) added[i] = lat[1][i] - lat[0][i];
  qsort(added, N, sizeof(double), cmp_d);
  qsort(lat[0], N, sizeof(double), cmp_d);
  qsort(lat[1], N, sizeof(double), cmp_d);
  double d50 = lat[0][N / 2], d99 = lat[0][N * 99 / 100], p50 = lat[1][N / 2], p99 = lat[1][N * 99 / 100];
  printf("mqtt publish->delivery (QoS 0, %d samples): direct p50 %.3f ms p99 %.3f ms; through proxy p50 %.3f ms "
         "p99 %.3f ms\n",
         N, d50 * 1e3, d99 * 1e3, p50 * 1e3, p99 * 1e3);
  printf("mqtt added latency (through proxy minus direct, per round): p50 %.3f ms, p99 %.3f ms (goal p99 < 0.5 ms)\n",
         added[N / 2] * 1e3, added[N * 99 / 100] * 1e3);
  close(pub_direct);
  close(pub_proxy);
  close(sub);
  stop(px);
  kill(mosq, SIGTERM);
  waitpid(mosq, NULL, 0);
  unlink(conf);
  return 0;
}
