/* The pty transport: a pseudo-terminal for a process device. The console holds
 * the master and a copy of the slave, so the terminal never hangs up while the
 * device's process restarts (a power cycle) and no byte is lost. */
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "uart_transport.h"

typedef struct pty_tx {
  uart_tx base;
  uv_poll_t poll;
  int master, slave;
  int polling;
} pty_tx;

static void pty__read(uv_poll_t *p, int status, int events) {
  pty_tx *t = p->data;
  if (status < 0) {
    uv_poll_stop(&t->poll);
    t->polling = 0;
    console__lost(t->base.con, uv_strerror(status));
    return;
  }
  if (!(events & UV_READABLE)) return;
  char buf[4096];
  /* at most UART_READ_BUDGET bytes now: a device that writes faster than we
   * read would keep EAGAIN from ever coming; the poll wakes us on the next turn */
  for (size_t got = 0; got < UART_READ_BUDGET;) {
    size_t want = UART_READ_BUDGET - got < sizeof buf ? UART_READ_BUDGET - got : sizeof buf;
    ssize_t n = read(t->master, buf, want);
    if (n > 0) {
      console__data(t->base.con, buf, (size_t)n);
      got += (size_t)n;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    /* EIO cannot happen while we hold the slave; if it does, say so */
    uv_poll_stop(&t->poll);
    t->polling = 0;
    console__lost(t->base.con, n == 0 ? "end of file on the pty" : strerror(errno));
    break;
  }
}

static int pty__open(uart_tx *base, char *err, size_t errlen) {
  pty_tx *t = (pty_tx *)base;
  (void)err;
  (void)errlen;
  if (!t->polling) uv_poll_start(&t->poll, UV_READABLE, pty__read);
  t->polling = 1;
  return 0;
}

static int pty__write(uart_tx *base, const void *data, size_t len, char *err, size_t errlen) {
  pty_tx *t = (pty_tx *)base;
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(t->master, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN)
        snprintf(err, errlen, "the device does not read its console (terminal buffer full)");
      else
        snprintf(err, errlen, "write: %s", strerror(errno));
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static void pty__drain(uart_tx *base) {
  pty_tx *t = (pty_tx *)base;
  if (t->polling) pty__read(&t->poll, 0, UV_READABLE);
}

static void pty__close(uart_tx *base) {
  pty_tx *t = (pty_tx *)base;
  uv_poll_stop(&t->poll);
  t->polling = 0;
}

static void pty__closed(uv_handle_t *h) {
  pty_tx *t = h->data;
  close(t->master);
  close(t->slave);
  free(t);
}

static void pty__destroy(uart_tx *base) {
  pty_tx *t = (pty_tx *)base;
  uv_poll_stop(&t->poll);
  uv_close((uv_handle_t *)&t->poll, pty__closed);
}

static const uart_tx_ops pty_ops = {pty__open, pty__write, pty__drain, pty__close, pty__destroy};

uart_tx *uart_pty_new(uv_loop_t *loop, console *con, int *slave_fd, char *desc, size_t desclen,
                      char *err, size_t errlen) {
  pty_tx *t = calloc(1, sizeof *t);
  if (!t) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  char name[128] = "";
  if (openpty(&t->master, &t->slave, name, NULL, NULL) != 0) {
    snprintf(err, errlen, "openpty: %s", strerror(errno));
    free(t);
    return NULL;
  }
  /* raw: no echo, no CR/LF translation, bytes exactly as the device writes them */
  struct termios tio;
  if (tcgetattr(t->slave, &tio) == 0) {
    cfmakeraw(&tio);
    tcsetattr(t->slave, TCSANOW, &tio);
  }
  fcntl(t->master, F_SETFL, fcntl(t->master, F_GETFL) | O_NONBLOCK);
  fcntl(t->master, F_SETFD, FD_CLOEXEC);
  fcntl(t->slave, F_SETFD, FD_CLOEXEC);
  t->base.ops = &pty_ops;
  t->base.con = con;
  t->base.loop = loop;
  uv_poll_init(loop, &t->poll, t->master);
  t->poll.data = t;
  *slave_fd = t->slave;
  snprintf(desc, desclen, "pty %s", name);
  return &t->base;
}
