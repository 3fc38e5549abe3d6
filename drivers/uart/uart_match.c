#include "uart_match.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct uart_match {
  int plain;
  char *text; /* plain: the bytes; regex: the pattern */
  size_t len;
  regex_t re;
  regmatch_t *groups;
  size_t ngroups;
  int one_line; /* no newline in the pattern: a match never spans lines */
  /* where the last failed search of the same cursor may resume */
  uint64_t hint_cursor, hint_pos;
  int hint_valid;
};

int uart_match_new(const char *pattern, size_t len, int plain, uart_match **out, char *err,
                   size_t errlen) {
  uart_match *m = calloc(1, sizeof *m);
  if (!m) abort();
  m->plain = plain;
  m->len = len;
  m->text = malloc(len + 1);
  if (!m->text) abort();
  memcpy(m->text, pattern, len);
  m->text[len] = 0;
  m->one_line = memchr(pattern, '\n', len) == NULL;
  if (plain) {
    if (len == 0) {
      snprintf(err, errlen, "the text to expect is empty");
      uart_match_free(m);
      return -1;
    }
    m->ngroups = 1;
  } else {
    if (memchr(pattern, 0, len)) {
      snprintf(err, errlen, "a regex cannot hold a NUL byte (use plain = true)");
      free(m->text);
      free(m);
      return -1;
    }
    int rc = regcomp(&m->re, m->text, REG_EXTENDED | REG_NEWLINE);
    if (rc != 0) {
      char buf[256];
      regerror(rc, &m->re, buf, sizeof buf);
      snprintf(err, errlen, "bad regex '%s': %s", m->text, buf);
      free(m->text);
      free(m);
      return -1;
    }
    m->ngroups = m->re.re_nsub + 1;
    m->groups = calloc(m->ngroups, sizeof *m->groups);
    if (!m->groups) abort();
  }
  *out = m;
  return 0;
}

void uart_match_free(uart_match *m) {
  if (!m) return;
  if (!m->plain) regfree(&m->re);
  free(m->groups);
  free(m->text);
  free(m);
}

size_t uart_match_groups(const uart_match *m) { return m->ngroups; }

int uart_match_next(uart_match *m, const uart_capture *c, uint64_t *cursor, uart_span *spans,
                    size_t nspans) {
  size_t len;
  uint64_t at;
  const char *p = uart_capture_peek(c, *cursor, &len, &at);
  if (at != *cursor) {
    *cursor = at;
    m->hint_valid = 0;
  }
  size_t from = 0; /* where this search starts, relative to p */
  if (m->hint_valid && m->hint_cursor == at && m->hint_pos >= at && m->hint_pos - at <= len)
    from = (size_t)(m->hint_pos - at);
  uint64_t so, eo;
  if (m->plain) {
    const char *hit = len - from >= m->len ? memmem(p + from, len - from, m->text, m->len) : NULL;
    if (!hit) {
      /* the text may still complete across the last len-1 bytes */
      size_t keep = m->len - 1;
      m->hint_pos = at + (len > keep ? len - keep : 0);
      if (m->hint_pos < at + from) m->hint_pos = at + from;
      m->hint_cursor = at;
      m->hint_valid = 1;
      return 0;
    }
    so = at + (uint64_t)(hit - p);
    eo = so + m->len;
    if (nspans > 0) spans[0] = (uart_span){so, eo, 1};
    for (size_t i = 1; i < nspans; i++) spans[i] = (uart_span){0, 0, 0};
  } else {
    /* '^' holds at the search start only if a line starts there */
    int flags = REG_STARTEND | REG_NOTEOL;
    uint64_t start = at + from;
    if (start > uart_capture_start(c)) {
      size_t blen;
      const char *before = uart_capture_peek(c, start - 1, &blen, NULL);
      if (before[0] != '\n') flags |= REG_NOTBOL;
    }
    m->groups[0].rm_so = 0;
    m->groups[0].rm_eo = (regoff_t)(len - from);
    if (regexec(&m->re, p + from, m->ngroups, m->groups, flags) != 0) {
      /* a match can only start in the unfinished last line, unless the
       * pattern crosses lines: then every byte is searched again */
      size_t resume = from;
      if (m->one_line) {
        for (size_t i = len; i > from; i--)
          if (p[i - 1] == '\n') {
            resume = i;
            break;
          }
      }
      m->hint_pos = at + resume;
      m->hint_cursor = at;
      m->hint_valid = 1;
      return 0;
    }
    so = start + (uint64_t)m->groups[0].rm_so;
    eo = start + (uint64_t)m->groups[0].rm_eo;
    for (size_t i = 0; i < nspans; i++) {
      if (i < m->ngroups && m->groups[i].rm_so >= 0)
        spans[i] = (uart_span){start + (uint64_t)m->groups[i].rm_so, start + (uint64_t)m->groups[i].rm_eo, 1};
      else
        spans[i] = (uart_span){0, 0, 0};
    }
  }
  *cursor = eo;
  m->hint_valid = 0;
  return 1;
}
