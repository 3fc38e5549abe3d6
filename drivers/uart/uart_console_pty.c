#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "uart_console.h"

#define LINE_MAX_BYTES 8192

struct console {
  uv_poll_t poll;
  int master, slave;
  console_line_cb cb;
  void *arg;
  char line[LINE_MAX_BYTES + 1];
  size_t len;
  size_t total;
  int closing;
};

static void console__emit(console *c) {
  c->line[c->len] = 0;
  c->cb(c->arg, c->line, c->len);
  c->len = 0;
}

static void console__read(uv_poll_t *p, int status, int events) {
  (void)status;
  console *c = p->data;
  if (c->closing || !(events & UV_READABLE)) return;
  char buf[4096];
  for (;;) {
    ssize_t n = read(c->master, buf, sizeof buf);
    if (n <= 0) break; /* EAGAIN: drained; EIO cannot happen while we hold the slave */
    c->total += (size_t)n;
    for (ssize_t i = 0; i < n; i++) {
      char ch = buf[i];
      if (ch == '\r') continue;
      if (ch == '\n') {
        console__emit(c);
        continue;
      }
      /* an endless line is cut rather than grown without bound */
      if (c->len == LINE_MAX_BYTES) console__emit(c);
      c->line[c->len++] = ch ? ch : '.';
    }
  }
}

int console_open_pty(uv_loop_t *loop, console_line_cb cb, void *arg, console **out,
                     int *slave_fd, char *err, size_t errlen) {
  console *c = calloc(1, sizeof *c);
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  struct termios tio;
  if (openpty(&c->master, &c->slave, NULL, NULL, NULL) != 0) {
    snprintf(err, errlen, "openpty: %s", strerror(errno));
    free(c);
    return -1;
  }
  /* raw: no echo, no CR/LF translation, bytes exactly as the device writes them */
  if (tcgetattr(c->slave, &tio) == 0) {
    cfmakeraw(&tio);
    tcsetattr(c->slave, TCSANOW, &tio);
  }
  fcntl(c->master, F_SETFL, fcntl(c->master, F_GETFL) | O_NONBLOCK);
  fcntl(c->master, F_SETFD, FD_CLOEXEC);
  fcntl(c->slave, F_SETFD, FD_CLOEXEC);
  c->cb = cb;
  c->arg = arg;
  uv_poll_init(loop, &c->poll, c->master);
  c->poll.data = c;
  uv_poll_start(&c->poll, UV_READABLE, console__read);
  *slave_fd = c->slave;
  *out = c;
  return 0;
}

int console_write(console *c, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(c->master, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1; /* EAGAIN: the device does not read its console; give up */
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

void console_flush(console *c) {
  console__read(&c->poll, 0, UV_READABLE);
  if (c->len) console__emit(c);
}

size_t console_bytes(const console *c) { return c->total; }

static void console__closed(uv_handle_t *h) {
  console *c = h->data;
  close(c->master);
  close(c->slave);
  free(c);
}

void console_close(console *c) {
  if (!c || c->closing) return;
  console_flush(c);
  c->closing = 1;
  uv_poll_stop(&c->poll);
  uv_close((uv_handle_t *)&c->poll, console__closed);
}
