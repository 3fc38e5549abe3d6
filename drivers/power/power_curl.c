/* The HTTP requests of the pdudaemon and http drivers (libcurl, one easy handle
 * per request: power calls are rare and a fresh connection fails loudly). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "power_int.h"

#define RESP_MAX 65536

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void init_curl(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

typedef struct sink {
  char *buf;
  size_t len;
} sink;

static size_t on_data(char *p, size_t size, size_t n, void *arg) {
  sink *s = arg;
  size_t len = size * n, keep = len;
  if (s->len + keep > RESP_MAX) keep = RESP_MAX - s->len;
  memcpy(s->buf + s->len, p, keep);
  s->len += keep;
  s->buf[s->len] = 0;
  return len;
}

int power__http(const char *method, const char *url, const char *body, const char *user,
                const char *password, double timeout, long *status, char **resp, char *err,
                size_t errlen) {
  pthread_once(&once, init_curl);
  CURL *c = curl_easy_init();
  if (!c) {
    snprintf(err, errlen, "curl_easy_init failed");
    return -1;
  }
  sink s = {calloc(1, RESP_MAX + 1), 0};
  if (!s.buf) abort();
  char cerr[CURL_ERROR_SIZE] = "";
  long ms = (long)(timeout * 1000);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (strcmp(method, "HEAD") == 0) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
  }
  if (user) {
    curl_easy_setopt(c, CURLOPT_USERNAME, user);
    curl_easy_setopt(c, CURLOPT_PASSWORD, password ? password : "");
  }
  /* a worker thread: no SIGALRM for timeouts */
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  CURLcode rc = curl_easy_perform(c);
  int result = 0;
  if (rc != CURLE_OK) {
    snprintf(err, errlen, "%s %s: %s", method, url, cerr[0] ? cerr : curl_easy_strerror(rc));
    result = -1;
  } else {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
  }
  curl_easy_cleanup(c);
  if (resp && result == 0) *resp = s.buf;
  else free(s.buf);
  return result;
}
