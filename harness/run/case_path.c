#include "case_path.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int plain(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         strchr("._@=,+[]-", c) != NULL;
}

static uint64_t fnv1a(const char *s, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
  return h;
}

/* One path component for the n bytes at s, escaped and bounded; returns its
 * length in out (which holds CASE_PATH_PART_MAX + 1 bytes). */
static size_t part(const char *s, size_t n, char *out) {
  char esc[4 * 1024];
  size_t k = 0;
  for (size_t i = 0; i < n && k + 4 < sizeof esc; i++) {
    unsigned char c = (unsigned char)s[i];
    if (plain(c) && !(i == 0 && c == '.')) esc[k++] = (char)c;
    else k += (size_t)snprintf(esc + k, sizeof esc - k, "%%%02X", c);
  }
  if (k == 0) esc[k++] = '-';
  if (k <= CASE_PATH_PART_MAX && k + 4 < sizeof esc) {
    memcpy(out, esc, k);
    out[k] = 0;
    return k;
  }
  /* too long: the start, then "~" and a hash of the whole part (unescaped) */
  size_t keep = CASE_PATH_PART_MAX - 17;
  while (keep > 0 && esc[keep - 1] == '%') keep--; /* never cut an escape in two */
  if (keep > 1 && esc[keep - 2] == '%') keep -= 2;
  memcpy(out, esc, keep);
  snprintf(out + keep, CASE_PATH_PART_MAX + 1 - keep, "~%016llx", (unsigned long long)fnv1a(s, n));
  return strlen(out);
}

int case_path(const char *id, char *out, size_t len) {
  if (len < 2 * (CASE_PATH_PART_MAX + 1)) return -1;
  const char *slash = strchr(id, '/');
  char a[CASE_PATH_PART_MAX + 1], b[CASE_PATH_PART_MAX + 1];
  if (slash) {
    part(id, (size_t)(slash - id), a);
    part(slash + 1, strlen(slash + 1), b);
  } else {
    snprintf(a, sizeof a, "%%00"); /* no encoded part is this: a NUL byte is never in an id */
    part(id, strlen(id), b);
  }
  snprintf(out, len, "%s/%s", a, b);
  return 0;
}
