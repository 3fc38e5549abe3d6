/* fwserver: libmicrohttpd (epoll mode, no thread) on the caller's libuv loop.
 * See fwserver.h for the contract. */
#include "fwserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FWS_KEY_LEN 32
#define FWS_NAME_MAX 128
#define FWS_BLOCK (64 * 1024)
/* An idle connection (a device that vanished mid-download) is dropped after this. */
#define FWS_IDLE_TIMEOUT_S 120u
/* The limits' defaults (fwserver.h); MHD's own cap only backs ours up (its
 * default, FD_SETSIZE - 4 = 1020, was what 1100 idle connections reached). */
#define FWS_MAX_CONNECTIONS 4096u
#define FWS_HEAD_TIMEOUT_S 10u
#define FWS_MHD_CAP 65536u

typedef struct fws_image {
  struct fws_image *next;
  char *name;
  char *file;
  unsigned flags;
  int has_fault;
  fwserver_fault fault;
} fws_image;

typedef struct fws_req {
  fwserver *s;
  struct MHD_Connection *conn;
  struct fws_req *dprev, *dnext; /* in s->delayed while suspended */
  uint64_t due_ms;               /* uv_now() when a delayed request resumes */
  char *method, *path, *range, *name;
  const char *reason;
  int status;
  int signed_url;
  int is_head;
  int is_file; /* the response streams the file */
  int fd;
  uint64_t size, offset, length, sent;
  int has_fault;
  fwserver_fault fault;
  int truncated;
  int read_failed;
  int suspended;
  int cancelled; /* its image was removed while it was parked */
} fws_req;

struct fwserver {
  uv_loop_t *loop;
  struct MHD_Daemon *mhd;
  uv_poll_t poll;   /* MHD's epoll fd */
  uv_timer_t timer; /* MHD_get_timeout() */
  uv_timer_t delay; /* resumes delayed (suspended) requests */
  int open_handles;
  int in_mhd;  /* > 0 while MHD calls us back: MHD must not be stopped then */
  int closing;
  void (*done)(void *);
  void *done_arg;
  uint16_t port;
  unsigned char key[FWS_KEY_LEN];
  fws_image *images;
  fws_req *delayed;
  fwserver_event_cb cb;
  void *cb_arg;
  char mhd_log[256]; /* MHD's last complaint, for start errors */
  fwserver_limits lim;
  fwserver_stats st;
  struct fws_addr *addrs; /* open connections per client address */
  size_t naddrs, addrs_cap;
  void (*notice)(void *, const char *);
  void *notice_arg;
  uint64_t notice_ms;      /* uv_now() of the last notice */
  uint64_t unsaid;         /* refusals since the last notice */
};

/* One client address and how many of its connections are open. */
typedef struct fws_addr {
  int family;
  unsigned char ip[16];
  unsigned open;
} fws_addr;

/* Per connection (MHD's socket context): whether a request came. */
typedef struct fws_conn {
  int requested;
} fws_conn;

static void fws__err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fws__err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static int fws__valid_name(const char *name) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > FWS_NAME_MAX || name[0] == '.') return 0;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return 0;
  }
  return 1;
}

static fws_image *fws__find(fwserver *s, const char *name) {
  for (fws_image *im = s->images; im; im = im->next)
    if (strcmp(im->name, name) == 0) return im;
  return NULL;
}

static void fws__image_free(fws_image *im) {
  free(im->name);
  free(im->file);
  free(im);
}

/* ---- signing ---------------------------------------------------------- */

/* hex must hold 65 bytes. Returns 0, or -1 if the name is invalid. */
static int fws__mac(const fwserver *s, const char *name, int64_t expires, char hex[65]) {
  char msg[FWS_NAME_MAX + 32];
  int n = snprintf(msg, sizeof msg, "%s\n%lld", name, (long long)expires);
  if (n < 0 || (size_t)n >= sizeof msg) return -1;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (!HMAC(EVP_sha256(), s->key, FWS_KEY_LEN, (const unsigned char *)msg, (size_t)n, md,
            &mdlen) ||
      mdlen != 32)
    return -1;
  static const char digits[] = "0123456789abcdef";
  for (unsigned i = 0; i < mdlen; i++) {
    hex[2 * i] = digits[md[i] >> 4];
    hex[2 * i + 1] = digits[md[i] & 15];
  }
  hex[64] = '\0';
  return 0;
}

int fwserver_sign(fwserver *s, const char *name, int64_t expires_unix, char *out,
                  size_t outlen) {
  char hex[65];
  if (!s || !out || !fws__valid_name(name) || fws__mac(s, name, expires_unix, hex) != 0)
    return -1;
  int n = snprintf(out, outlen, "/fw/%s?expires=%lld&sig=%s", name, (long long)expires_unix,
                   hex);
  if (n < 0 || (size_t)n >= outlen) {
    if (outlen) out[0] = '\0';
    return -1;
  }
  return n;
}

/* ---- Range -------------------------------------------------------------- */

enum { FWS_RANGE_IGNORE, FWS_RANGE_OK, FWS_RANGE_UNSAT };

static int fws__parse_u64(const char *p, const char *end, uint64_t *out) {
  if (p == end) return -1;
  uint64_t v = 0;
  for (; p < end; p++) {
    if (*p < '0' || *p > '9') return -1;
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

/* One range of "bytes=a-b", "bytes=a-" or "bytes=-n" against a file of `size`.
 * Anything malformed or with several ranges is ignored (served whole), as RFC 9110
 * lets a server do; syntactically valid but outside the file is unsatisfiable. */
static int fws__parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len) {
  const char *p = h;
  while (*p == ' ' || *p == '\t') p++;
  if (strncasecmp(p, "bytes=", 6) != 0) return FWS_RANGE_IGNORE;
  p += 6;
  const char *end = p + strlen(p);
  while (end > p && (end[-1] == ' ' || end[-1] == '\t')) end--;
  if (memchr(p, ',', (size_t)(end - p))) return FWS_RANGE_IGNORE;
  const char *dash = memchr(p, '-', (size_t)(end - p));
  if (!dash) return FWS_RANGE_IGNORE;
  uint64_t a, b;
  if (dash == p) { /* suffix: the last n bytes */
    if (fws__parse_u64(dash + 1, end, &b) != 0) return FWS_RANGE_IGNORE;
    if (b == 0 || size == 0) return FWS_RANGE_UNSAT;
    if (b > size) b = size;
    *off = size - b;
    *len = b;
    return FWS_RANGE_OK;
  }
  if (fws__parse_u64(p, dash, &a) != 0) return FWS_RANGE_IGNORE;
  if (dash + 1 == end) {
    b = UINT64_MAX;
  } else {
    if (fws__parse_u64(dash + 1, end, &b) != 0) return FWS_RANGE_IGNORE;
    if (b < a) return FWS_RANGE_IGNORE;
  }
  if (a >= size) return FWS_RANGE_UNSAT;
  if (b >= size) b = size - 1;
  *off = a;
  *len = b - a + 1;
  return FWS_RANGE_OK;
}

/* ---- requests --------------------------------------------------------- */

static void fws__req_free(fws_req *r) {
  if (r->fd >= 0) close(r->fd);
  free(r->method);
  free(r->path);
  free(r->range);
  free(r->name);
  free(r);
}

static void fws__delay_unlink(fwserver *s, fws_req *r) {
  if (r->dprev) r->dprev->dnext = r->dnext;
  else if (s->delayed == r) s->delayed = r->dnext;
  if (r->dnext) r->dnext->dprev = r->dprev;
  r->dprev = r->dnext = NULL;
}

static void fws__run(fwserver *s);

static void fws__delay_rearm(fwserver *s);

static int fws__forget(fwserver *s, const char *name);

static void fws__on_delay(uv_timer_t *t) {
  fwserver *s = t->data;
  uint64_t now = uv_now(s->loop);
  fws_req *r = s->delayed;
  while (r) {
    fws_req *next = r->dnext;
    if (r->due_ms <= now) {
      fws__delay_unlink(s, r);
      r->suspended = 0;
      MHD_resume_connection(r->conn);
    }
    r = next;
  }
  fws__delay_rearm(s);
  fws__run(s);
}

static void fws__delay_rearm(fwserver *s) {
  if (!s->delayed) {
    uv_timer_stop(&s->delay);
    return;
  }
  uint64_t first = UINT64_MAX;
  for (fws_req *r = s->delayed; r; r = r->dnext)
    if (r->due_ms < first) first = r->due_ms;
  uint64_t now = uv_now(s->loop);
  uv_timer_start(&s->delay, fws__on_delay, first > now ? first - now : 0, 0);
}

static char *fws__strdup0(const char *v) { return v ? strdup(v) : NULL; }

/* Sets the answer of a request refused with `status` for `reason`; returns 0. */
static int fws__refuse(fws_req *r, unsigned status, const char *reason) {
  r->status = (int)status;
  r->reason = reason;
  return 0;
}

/* A signed URL's expires and sig are right and not past, or an unsigned one is
 * allowed: 1; else 0 with the 403 set. */
static int fws__signature_ok(fwserver *s, fws_req *r, const fws_image *im) {
  const char *exp = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "expires");
  const char *sig = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "sig");
  if (!exp && !sig) {
    if (im->flags & FWSERVER_SIGNED_ONLY) return fws__refuse(r, MHD_HTTP_FORBIDDEN, "signature required");
    return 1;
  }
  r->signed_url = 1;
  char want[65];
  char *endp = NULL;
  errno = 0;
  long long e = exp ? strtoll(exp, &endp, 10) : 0;
  int ok = exp && sig && *exp && endp && *endp == '\0' && errno == 0 &&
           fws__mac(s, im->name, (int64_t)e, want) == 0 && strlen(sig) == 64 && CRYPTO_memcmp(sig, want, 64) == 0;
  if (!ok) return fws__refuse(r, MHD_HTTP_FORBIDDEN, "bad signature");
  if ((long long)time(NULL) > e) return fws__refuse(r, MHD_HTTP_FORBIDDEN, "expired signature");
  return 1;
}

/* The part of the file a 200 answers, narrowed by the Range header (206, 416). */
static void fws__apply_range(fws_req *r) {
  if (!r->range) return;
  if (r->has_fault && r->fault.ignore_range) {
    r->reason = "fault: range ignored";
    return;
  }
  uint64_t off = 0, len = 0;
  switch (fws__parse_range(r->range, r->size, &off, &len)) {
  case FWS_RANGE_OK:
    r->status = MHD_HTTP_PARTIAL_CONTENT;
    r->offset = off;
    r->length = len;
    break;
  case FWS_RANGE_UNSAT:
    r->status = MHD_HTTP_RANGE_NOT_SATISFIABLE;
    r->reason = "range not satisfiable";
    r->is_file = 0;
    r->length = 0;
    break;
  default:
    r->reason = "range ignored";
    break;
  }
}

/* Decides the answer of a fresh request: status, reason, file part, fault. */
static void fws__decide(fwserver *s, fws_req *r) {
  if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
    fws__refuse(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
    return;
  }
  if (strncmp(r->path, "/fw/", 4) != 0 || !fws__valid_name(r->path + 4)) {
    fws__refuse(r, MHD_HTTP_NOT_FOUND, "unknown path");
    return;
  }
  fws_image *im = fws__find(s, r->path + 4);
  if (!im) {
    fws__refuse(r, MHD_HTTP_NOT_FOUND, "no such image");
    return;
  }
  r->name = strdup(im->name);
  if (!fws__signature_ok(s, r, im)) return;
  if (im->has_fault) {
    r->has_fault = 1;
    r->fault = im->fault;
    if (im->fault.times > 0 && --im->fault.times == 0) im->has_fault = 0;
  }
  if (r->has_fault && r->fault.status) {
    fws__refuse(r, (unsigned)r->fault.status, "fault: status");
    return;
  }
  r->fd = open(im->file, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (r->fd < 0 || fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    fws__refuse(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot open file");
    return;
  }
  r->size = (uint64_t)st.st_size;
  r->is_file = 1;
  r->status = MHD_HTTP_OK;
  r->reason = "ok";
  r->offset = 0;
  r->length = r->size;
  fws__apply_range(r);
}

static ssize_t fws__read(void *cls, uint64_t pos, char *buf, size_t max) {
  fws_req *r = cls;
  /* MHD asks for more only once the previous buffer has left, so `pos` is
   * what the socket has taken so far. */
  r->sent = pos;
  if (r->has_fault && r->fault.truncate_after >= 0) {
    uint64_t cut = (uint64_t)r->fault.truncate_after;
    if (pos >= cut) {
      r->truncated = 1;
      return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (max > cut - pos) max = (size_t)(cut - pos);
  }
  if (pos >= r->length) return MHD_CONTENT_READER_END_OF_STREAM;
  if (max > r->length - pos) max = (size_t)(r->length - pos);
  ssize_t n;
  do {
    n = pread(r->fd, buf, max, (off_t)(r->offset + pos));
  } while (n < 0 && errno == EINTR);
  if (n <= 0) { /* an error, or the file shrank under us */
    r->read_failed = 1;
    return MHD_CONTENT_READER_END_WITH_ERROR;
  }
  return n;
}

static enum MHD_Result fws__respond(fws_req *r) {
  struct MHD_Response *resp;
  if (r->is_file) {
    resp = MHD_create_response_from_callback(r->length, FWS_BLOCK, fws__read, r, NULL);
  } else {
    char text[128];
    int n = snprintf(text, sizeof text, "%d %s\n", r->status, r->reason);
    resp = MHD_create_response_from_buffer((size_t)n, text, MHD_RESPMEM_MUST_COPY);
  }
  if (!resp) return MHD_NO;
  int ok = 1;
  if (r->is_file) {
    ok &= MHD_add_response_header(resp, "Content-Type", "application/octet-stream") == MHD_YES;
    ok &= MHD_add_response_header(resp, "Accept-Ranges", "bytes") == MHD_YES;
    if (r->status == MHD_HTTP_PARTIAL_CONTENT) {
      char cr[80];
      snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)r->offset,
               (unsigned long long)(r->offset + r->length - 1), (unsigned long long)r->size);
      ok &= MHD_add_response_header(resp, "Content-Range", cr) == MHD_YES;
    }
  } else {
    ok &= MHD_add_response_header(resp, "Content-Type", "text/plain") == MHD_YES;
    if (r->status == MHD_HTTP_RANGE_NOT_SATISFIABLE) {
      char cr[48];
      snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)r->size);
      ok &= MHD_add_response_header(resp, "Content-Range", cr) == MHD_YES;
    }
    if (r->status == MHD_HTTP_METHOD_NOT_ALLOWED)
      ok &= MHD_add_response_header(resp, "Allow", "GET, HEAD") == MHD_YES;
    /* the image is gone: nothing more to ask on this connection */
    if (r->cancelled) ok &= MHD_add_response_header(resp, "Connection", "close") == MHD_YES;
  }
  enum MHD_Result ret = ok ? MHD_queue_response(r->conn, (unsigned)r->status, resp) : MHD_NO;
  MHD_destroy_response(resp);
  return ret;
}

static void fws__requested(struct MHD_Connection *c);

static enum MHD_Result fws__handler(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls) {
  fwserver *s = cls;
  fws_req *r = *con_cls;
  (void)version;
  (void)upload_data;
  if (!r) {
    fws__requested(c);
    r = calloc(1, sizeof *r);
    if (!r) return MHD_NO;
    r->s = s;
    r->conn = c;
    r->fd = -1;
    r->method = strdup(method);
    r->path = strdup(url);
    r->range = fws__strdup0(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range"));
    r->reason = "";
    *con_cls = r;
    if (!r->method || !r->path) return MHD_NO; /* freed by the completion callback */
    r->is_head = strcmp(method, "HEAD") == 0;
    fws__decide(s, r);
    if (r->has_fault && r->fault.delay_ms > 0 && !s->closing) {
      /* Park the connection; fws__on_delay resumes it and MHD calls us again. */
      MHD_suspend_connection(c);
      r->suspended = 1;
      r->due_ms = uv_now(s->loop) + r->fault.delay_ms;
      r->dnext = s->delayed;
      if (s->delayed) s->delayed->dprev = r;
      s->delayed = r;
      fws__delay_rearm(s);
    }
    /* Answer on the next call, once the request is read whole: a response
     * queued this early makes MHD close the connection (no keep-alive). */
    return MHD_YES;
  }
  if (*upload_data_size) { /* a body we do not want: swallow it */
    *upload_data_size = 0;
    return MHD_YES;
  }
  return fws__respond(r);
}

static const char *fws__toe_reason(enum MHD_RequestTerminationCode toe) {
  switch (toe) {
  case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED: return "idle timeout";
  case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN: return "server stopped";
  /* MHD tells a send failure from a read failure, not who closed first: both
   * mean the peer (or a proxy's fault between us) dropped the connection. */
  default: return "connection lost";
  }
}

static void fws__completed(void *cls, struct MHD_Connection *c, void **con_cls,
                           enum MHD_RequestTerminationCode toe) {
  fwserver *s = cls;
  fws_req *r = *con_cls;
  (void)c;
  if (!r) return;
  *con_cls = NULL;
  if (r->suspended) {
    fws__delay_unlink(s, r);
    r->suspended = 0;
  }
  int complete = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
  if (complete) {
    r->sent = (r->is_file && !r->is_head) ? r->length : 0;
  } else if (r->truncated) {
    r->reason = "fault: truncated";
  } else if (r->read_failed) {
    r->reason = "file read error";
  } else {
    r->reason = fws__toe_reason(toe);
  }
  if (s->cb && r->method && r->path) {
    fwserver_event ev = {
        .method = r->method,
        .path = r->path,
        .range = r->range,
        .name = r->name,
        .reason = r->reason,
        .status = r->status,
        .signed_url = r->signed_url,
        .size = r->size,
        .offset = r->offset,
        .length = r->is_file ? r->length : 0,
        .sent = r->is_file ? r->sent : 0,
        .complete = complete,
    };
    s->cb(s->cb_arg, &ev);
  }
  fws__req_free(r);
}


/* ---- limits (fwserver.h) ------------------------------------------------ */

static void fws__addr_key(const struct sockaddr *sa, int *family, unsigned char ip[16]) {
  memset(ip, 0, 16);
  *family = sa ? sa->sa_family : AF_UNSPEC;
  if (*family == AF_INET) memcpy(ip, &((const struct sockaddr_in *)sa)->sin_addr, 4);
  else if (*family == AF_INET6) memcpy(ip, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
}

static fws_addr *fws__addr(fwserver *s, const struct sockaddr *sa, int add) {
  int family;
  unsigned char ip[16];
  fws__addr_key(sa, &family, ip);
  for (size_t i = 0; i < s->naddrs; i++)
    if (s->addrs[i].family == family && memcmp(s->addrs[i].ip, ip, 16) == 0) return &s->addrs[i];
  if (!add) return NULL;
  if (s->naddrs == s->addrs_cap) {
    size_t cap = s->addrs_cap ? s->addrs_cap * 2 : 8;
    fws_addr *na = realloc(s->addrs, cap * sizeof *na);
    if (!na) return NULL;
    s->addrs = na;
    s->addrs_cap = cap;
  }
  fws_addr *a = &s->addrs[s->naddrs++];
  a->family = family;
  memcpy(a->ip, ip, 16);
  a->open = 0;
  return a;
}

static void fws__addr_name(const struct sockaddr *sa, char *out, size_t len) {
  const void *ip = sa && sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                                                   : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
  if (!sa || !inet_ntop(sa->sa_family, ip, out, (socklen_t)len)) snprintf(out, len, "?");
}

static void fws__notice(fwserver *s, const char *line) {
  if (s->notice) s->notice(s->notice_arg, line);
  else fprintf(stderr, "otahil: firmware server: %s\n", line);
}

/* A refusal: counted, and told at most once a second (with the count since). */
static void fws__refused(fwserver *s, const struct sockaddr *sa, int per_address) {
  if (per_address) s->st.refused_per_address++;
  else s->st.refused_total++;
  s->unsaid++;
  uint64_t now = uv_now(s->loop);
  if (s->notice_ms && now - s->notice_ms < 1000) return;
  char who[INET6_ADDRSTRLEN], line[256];
  fws__addr_name(sa, who, sizeof who);
  if (per_address)
    snprintf(line, sizeof line, "connection limit: refused %llu connection(s), the last from %s (%u open from it)",
             (unsigned long long)s->unsaid, who, s->lim.max_per_address);
  else
    snprintf(line, sizeof line, "connection limit: refused %llu connection(s), the last from %s (%u open in all)",
             (unsigned long long)s->unsaid, who, s->lim.max_connections);
  fws__notice(s, line);
  s->notice_ms = now;
  s->unsaid = 0;
}

static enum MHD_Result fws__accept(void *cls, const struct sockaddr *sa, socklen_t len) {
  fwserver *s = cls;
  (void)len;
  if (s->st.open >= s->lim.max_connections) {
    fws__refused(s, sa, 0);
    return MHD_NO;
  }
  fws_addr *a = fws__addr(s, sa, 0);
  if (a && a->open >= s->lim.max_per_address) {
    fws__refused(s, sa, 1);
    return MHD_NO;
  }
  return MHD_YES;
}

static const struct sockaddr *fws__peer(struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  return ci ? ci->client_addr : NULL;
}

/* Open and closed connections: the counts, and the head timeout. */
static void fws__conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                             enum MHD_ConnectionNotificationCode code) {
  fwserver *s = cls;
  fws_addr *a = fws__addr(s, fws__peer(c), code == MHD_CONNECTION_NOTIFY_STARTED);
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    s->st.open++;
    if (a) a->open++;
    *socket_context = calloc(1, sizeof(fws_conn));
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, s->lim.head_timeout_s);
    return;
  }
  fws_conn *fc = *socket_context;
  if (s->st.open) s->st.open--;
  if (a && a->open && --a->open == 0) *a = s->addrs[--s->naddrs]; /* forget the address */
  if (!fc || !fc->requested) s->st.no_request++;
  free(fc);
  *socket_context = NULL;
}

/* A request head came: from now on the transfer's idle timeout applies. */
static void fws__requested(struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  fws_conn *fc = ci ? ci->socket_context : NULL;
  if (!fc || fc->requested) return;
  fc->requested = 1;
  MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, FWS_IDLE_TIMEOUT_S);
}

static unsigned fws__fd_budget(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return FWS_MAX_CONNECTIONS;
  rlim_t half = rl.rlim_cur / 2;
  return half < 16 ? 16 : half < FWS_MAX_CONNECTIONS ? (unsigned)half : FWS_MAX_CONNECTIONS;
}

void fwserver_set_limits(fwserver *s, const fwserver_limits *l) {
  if (!s) return;
  fwserver_limits v = l ? *l : (fwserver_limits){0};
  if (!v.max_connections) v.max_connections = fws__fd_budget();
  if (v.max_connections > FWS_MHD_CAP - 1) v.max_connections = FWS_MHD_CAP - 1;
  if (!v.max_per_address) v.max_per_address = v.max_connections / 2 ? v.max_connections / 2 : 1;
  if (!v.head_timeout_s) v.head_timeout_s = FWS_HEAD_TIMEOUT_S;
  s->lim = v;
}

void fwserver_get_stats(const fwserver *s, fwserver_stats *out) {
  if (s && out) *out = s->st;
}

void fwserver_on_notice(fwserver *s, void (*cb)(void *arg, const char *line), void *arg) {
  if (!s) return;
  s->notice = cb;
  s->notice_arg = arg;
}

/* ---- loop integration ------------------------------------------------- */

static void fws__shutdown(fwserver *s);

static void fws__on_timer(uv_timer_t *t) { fws__run(t->data); }

static void fws__on_poll(uv_poll_t *p, int status, int events) {
  (void)status;
  (void)events;
  fws__run(p->data);
}

static void fws__arm(fwserver *s) {
  MHD_UNSIGNED_LONG_LONG ms = 0;
  if (MHD_get_timeout(s->mhd, &ms) == MHD_YES)
    uv_timer_start(&s->timer, fws__on_timer, (uint64_t)ms, 0);
  else
    uv_timer_stop(&s->timer);
}

static void fws__run(fwserver *s) {
  if (!s->mhd) return;
  s->in_mhd++;
  MHD_run(s->mhd);
  s->in_mhd--;
  if (s->closing && s->in_mhd == 0) {
    fws__shutdown(s); /* fwserver_close was called from an event callback */
    return;
  }
  fws__arm(s);
}

static void fws__log(void *cls, const char *fmt, va_list ap) {
  fwserver *s = cls;
  vsnprintf(s->mhd_log, sizeof s->mhd_log, fmt, ap);
  size_t n = strlen(s->mhd_log);
  while (n > 0 && (s->mhd_log[n - 1] == '\n' || s->mhd_log[n - 1] == '\r')) s->mhd_log[--n] = 0;
}

static void fws__on_handle_closed(uv_handle_t *h) {
  fwserver *s = h->data;
  if (--s->open_handles > 0) return;
  void (*done)(void *) = s->done;
  void *arg = s->done_arg;
  free(s->addrs);
  free(s);
  if (done) done(arg);
}

int fwserver_start(uv_loop_t *loop, const char *host, uint16_t port, fwserver **out,
                   char *err, size_t errlen) {
  if (!loop || !host || !out) {
    fws__err(err, errlen, "fwserver_start: missing loop, host or out");
    return -1;
  }
  *out = NULL;
  struct sockaddr_in sa4;
  struct sockaddr_in6 sa6;
  memset(&sa4, 0, sizeof sa4);
  memset(&sa6, 0, sizeof sa6);
  struct sockaddr *sa;
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  if (strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0) {
    sa4.sin_family = AF_INET;
    sa4.sin_port = htons(port);
    sa4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa = (struct sockaddr *)&sa4;
  } else if (strcmp(host, "::1") == 0) {
    sa6.sin6_family = AF_INET6;
    sa6.sin6_port = htons(port);
    sa6.sin6_addr = in6addr_loopback;
    sa = (struct sockaddr *)&sa6;
    flags |= MHD_USE_IPv6;
  } else {
    fws__err(err, errlen, "fwserver_start: host '%s' is not loopback (127.0.0.1, ::1)", host);
    return -1;
  }

  fwserver *s = calloc(1, sizeof *s);
  if (!s) {
    fws__err(err, errlen, "fwserver_start: out of memory");
    return -1;
  }
  s->loop = loop;
  if (RAND_bytes(s->key, FWS_KEY_LEN) != 1) {
    fws__err(err, errlen, "fwserver_start: RAND_bytes failed");
    free(s);
    return -1;
  }
  fwserver_set_limits(s, NULL);
  errno = 0;
  s->mhd = MHD_start_daemon(
      flags, port, fws__accept, s, fws__handler, s, MHD_OPTION_SOCK_ADDR, sa,
      MHD_OPTION_NOTIFY_COMPLETED, fws__completed, s, MHD_OPTION_CONNECTION_TIMEOUT,
      FWS_IDLE_TIMEOUT_S, MHD_OPTION_EXTERNAL_LOGGER, fws__log, s, MHD_OPTION_CONNECTION_LIMIT,
      FWS_MHD_CAP, MHD_OPTION_NOTIFY_CONNECTION, fws__conn_notify, s, MHD_OPTION_END);
  if (!s->mhd) {
    int e = errno;
    fws__err(err, errlen, "fwserver_start: cannot listen on %s:%u: %s", host, (unsigned)port,
             s->mhd_log[0] ? s->mhd_log : (e ? strerror(e) : "MHD_start_daemon failed"));
    free(s);
    return -1;
  }
  const union MHD_DaemonInfo *ei = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
  const union MHD_DaemonInfo *pi = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
  if (!ei || !pi) {
    fws__err(err, errlen, "fwserver_start: MHD gave no epoll fd or port");
    MHD_stop_daemon(s->mhd);
    free(s);
    return -1;
  }
  s->port = pi->port;
  int rc = uv_poll_init(loop, &s->poll, ei->epoll_fd);
  if (rc != 0) {
    fws__err(err, errlen, "fwserver_start: uv_poll_init on MHD's epoll fd: %s", uv_strerror(rc));
    MHD_stop_daemon(s->mhd);
    free(s);
    return -1;
  }
  /* From here the handles exist and are released by uv_close, never free(). */
  uv_timer_init(loop, &s->timer);
  uv_timer_init(loop, &s->delay);
  s->poll.data = s->timer.data = s->delay.data = s;
  s->open_handles = 3;
  rc = uv_poll_start(&s->poll, UV_READABLE, fws__on_poll);
  if (rc != 0) {
    fws__err(err, errlen, "fwserver_start: uv_poll_start: %s", uv_strerror(rc));
    fwserver_close(s, NULL, NULL);
    return -1;
  }
  fws__arm(s);
  *out = s;
  return 0;
}

uint16_t fwserver_port(const fwserver *s) { return s ? s->port : 0; }

void fwserver_on_event(fwserver *s, fwserver_event_cb cb, void *arg) {
  if (!s) return;
  s->cb = cb;
  s->cb_arg = arg;
}

int fwserver_add(fwserver *s, const char *name, const char *file, unsigned flags, char *err,
                 size_t errlen) {
  if (!s || !file) {
    fws__err(err, errlen, "fwserver_add: missing server or file");
    return -1;
  }
  if (!fws__valid_name(name)) {
    fws__err(err, errlen, "fwserver_add: invalid image name '%s' (want [A-Za-z0-9._-]{1,128})",
             name ? name : "(null)");
    return -1;
  }
  if (flags & ~FWSERVER_SIGNED_ONLY) {
    fws__err(err, errlen, "fwserver_add %s: unknown flags 0x%x", name, flags);
    return -1;
  }
  struct stat st;
  if (stat(file, &st) != 0) {
    fws__err(err, errlen, "fwserver_add %s: %s: %s", name, file, strerror(errno));
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    fws__err(err, errlen, "fwserver_add %s: %s: not a regular file", name, file);
    return -1;
  }
  fws_image *im = calloc(1, sizeof *im);
  if (im) {
    im->name = strdup(name);
    im->file = strdup(file);
  }
  if (!im || !im->name || !im->file) {
    if (im) fws__image_free(im);
    fws__err(err, errlen, "fwserver_add %s: out of memory", name);
    return -1;
  }
  im->flags = flags;
  fws__forget(s, name); /* a replaced image's parked requests still get their file */
  im->next = s->images;
  s->images = im;
  return 0;
}

/* Answers the requests a delay fault parked for image `name` (NULL: every image)
 * with 503 instead of the file: a parked request holds the file and a socket for
 * up to the delay, so it must not outlive its image (a case's images are removed
 * when the case ends). The file is let go now; the connection is resumed from the
 * delay timer on the next turn of the loop, not here, because we may be inside an
 * MHD callback where MHD_run must not be re-entered. */
static void fws__cancel_parked(fwserver *s, const char *name) {
  int any = 0;
  for (fws_req *r = s->delayed; r; r = r->dnext) {
    if (name && (!r->name || strcmp(r->name, name) != 0)) continue;
    if (r->fd >= 0) close(r->fd);
    r->fd = -1;
    r->is_file = 0;
    r->length = 0;
    r->status = MHD_HTTP_SERVICE_UNAVAILABLE;
    r->reason = "image removed";
    r->cancelled = 1;
    r->due_ms = 0;
    any = 1;
  }
  if (any && !s->closing) fws__delay_rearm(s);
}

/* Unlinks and frees the image `name`; 1 if there was one. */
static int fws__forget(fwserver *s, const char *name) {
  for (fws_image **pp = &s->images; *pp; pp = &(*pp)->next) {
    if (strcmp((*pp)->name, name) == 0) {
      fws_image *im = *pp;
      *pp = im->next;
      fws__image_free(im);
      return 1;
    }
  }
  return 0;
}

void fwserver_remove(fwserver *s, const char *name) {
  if (!s || !name) return;
  fws__forget(s, name);
  fws__cancel_parked(s, name);
}

void fwserver_clear(fwserver *s) {
  if (!s) return;
  while (s->images) {
    fws_image *im = s->images;
    s->images = im->next;
    fws__image_free(im);
  }
  fws__cancel_parked(s, NULL);
}

int fwserver_set_fault(fwserver *s, const char *name, const fwserver_fault *f) {
  if (!s || !name) return -1;
  fws_image *im = fws__find(s, name);
  if (!im) return -1;
  if (!f) {
    im->has_fault = 0;
    memset(&im->fault, 0, sizeof im->fault);
    return 0;
  }
  if (f->status != 0 && (f->status < 100 || f->status > 599)) return -1;
  im->fault = *f;
  im->has_fault = 1;
  return 0;
}

static void fws__shutdown(fwserver *s) {
  uv_poll_stop(&s->poll);
  uv_timer_stop(&s->timer);
  uv_timer_stop(&s->delay);
  /* MHD refuses to stop with suspended connections: wake them; the stop
   * then cuts them and their events fire (complete = 0). */
  while (s->delayed) {
    fws_req *r = s->delayed;
    fws__delay_unlink(s, r);
    r->suspended = 0;
    MHD_resume_connection(r->conn);
  }
  s->in_mhd++;
  MHD_stop_daemon(s->mhd);
  s->in_mhd--;
  s->mhd = NULL;
  fwserver_clear(s);
  uv_close((uv_handle_t *)&s->poll, fws__on_handle_closed);
  uv_close((uv_handle_t *)&s->timer, fws__on_handle_closed);
  uv_close((uv_handle_t *)&s->delay, fws__on_handle_closed);
}

void fwserver_close(fwserver *s, void (*done)(void *arg), void *arg) {
  if (!s || s->closing) return;
  s->closing = 1;
  s->done = done;
  s->done_arg = arg;
  if (s->in_mhd) return; /* fws__run finishes the job once MHD has returned */
  fws__shutdown(s);
}
