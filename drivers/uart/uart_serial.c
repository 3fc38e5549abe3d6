/* The serial transport: a local serial port through libserialport.
 *
 * libserialport (0.1.1 in Debian 12) opens only the ports sysfs lists under
 * /sys/class/tty (a USB-serial adapter, a UART); a pseudo-terminal, or a symlink
 * to one (what socat, a console multiplexer or a test makes), is refused with
 * "Device not found". Such a port is opened here with the same settings through
 * termios, so a lab can point `port` at any terminal.
 *
 * The port going away shows as a read error or a hang-up; it is closed and the
 * console core reopens it by path every retry period (the path may name a new
 * device node by then, as after a USB adapter re-enumerates). */
#include <errno.h>
#include <fcntl.h>
#include <libserialport.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "uart_transport.h"

typedef struct serial_tx {
  uart_tx base;
  char *path;
  int baud, data_bits, stop_bits;
  char parity;
  char flow[16];
  struct sp_port *sp; /* NULL when opened through termios */
  int fd;             /* -1 when closed */
  uv_poll_t *poll;
} serial_tx;

static void free_handle(uv_handle_t *h) { free(h); }

static void serial__close(uart_tx *base) {
  serial_tx *t = (serial_tx *)base;
  if (t->poll) {
    /* the fd may be closed right after uv_close (libuv's poll rules) */
    uv_close((uv_handle_t *)t->poll, free_handle);
    t->poll = NULL;
  }
  if (t->sp) {
    sp_close(t->sp);
    sp_free_port(t->sp);
    t->sp = NULL;
  } else if (t->fd >= 0) {
    close(t->fd);
  }
  t->fd = -1;
}

static void serial__lost(serial_tx *t, const char *why) {
  char msg[300];
  snprintf(msg, sizeof msg, "%s: %s", t->path, why);
  serial__close(&t->base);
  console__lost(t->base.con, msg);
}

/* Reads what the port holds (up to the budget); returns 0, or -1 after
 * reporting the port lost.
 * With VMIN = VTIME = 0 a read of a terminal with nothing to give returns 0,
 * not EAGAIN; a port that polls readable and then gives nothing has hung up
 * (a USB adapter that went away). A pty whose other side closed says EIO. */
static int serial__read_all(serial_tx *t, int readable) {
  char buf[4096];
  /* at most UART_READ_BUDGET bytes now (a flooding board would keep the loop
   * here for ever); the poll wakes us again on the next turn */
  size_t got = 0;
  for (int first = 1; got < UART_READ_BUDGET; first = 0) {
    size_t want = UART_READ_BUDGET - got < sizeof buf ? UART_READ_BUDGET - got : sizeof buf;
    ssize_t n;
    if (t->sp) {
      int r = sp_nonblocking_read(t->sp, buf, want);
      if (r < 0) {
        char *m = sp_last_error_message();
        serial__lost(t, m ? m : "read failed");
        sp_free_error_message(m);
        return -1;
      }
      n = r;
    } else {
      n = read(t->fd, buf, want);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        n = 0;
      } else if (n < 0) {
        serial__lost(t, strerror(errno));
        return -1;
      }
    }
    if (n == 0) {
      if (!(first && readable)) return 0;
      serial__lost(t, "hang-up (the port went away)");
      return -1;
    }
    console__data(t->base.con, buf, (size_t)n);
    got += (size_t)n;
  }
  return 0;
}

static void serial__poll_cb(uv_poll_t *p, int status, int events) {
  serial_tx *t = p->data;
  if (status < 0) { /* POLLERR: what a pty or a USB adapter that went away reports */
    char why[128];
    snprintf(why, sizeof why, "the port went away (poll: %s)", uv_strerror(status));
    serial__lost(t, why);
    return;
  }
  if (events & UV_READABLE) {
    if (serial__read_all(t, 1) != 0) return;
  }
  if (events & UV_DISCONNECT) serial__lost(t, "hang-up (the port went away)");
}

static int sp_fail(const char *what, char *err, size_t errlen) {
  char *m = sp_last_error_message();
  snprintf(err, errlen, "%s: %s", what, m ? m : "failed");
  sp_free_error_message(m);
  return -1;
}

static int open_libserialport(serial_tx *t, char *err, size_t errlen) {
  if (sp_open(t->sp, SP_MODE_READ_WRITE) != SP_OK) return sp_fail(t->path, err, errlen);
  enum sp_parity par = t->parity == 'o' ? SP_PARITY_ODD : t->parity == 'e' ? SP_PARITY_EVEN
                     : t->parity == 'm' ? SP_PARITY_MARK : t->parity == 's' ? SP_PARITY_SPACE
                     : SP_PARITY_NONE;
  enum sp_flowcontrol fl = strcmp(t->flow, "xonxoff") == 0 ? SP_FLOWCONTROL_XONXOFF
                         : strcmp(t->flow, "rtscts") == 0 ? SP_FLOWCONTROL_RTSCTS
                         : strcmp(t->flow, "dtrdsr") == 0 ? SP_FLOWCONTROL_DTRDSR
                         : SP_FLOWCONTROL_NONE;
  if (sp_set_baudrate(t->sp, t->baud) != SP_OK) return sp_fail("baud", err, errlen);
  if (sp_set_bits(t->sp, t->data_bits) != SP_OK) return sp_fail("data bits", err, errlen);
  if (sp_set_parity(t->sp, par) != SP_OK) return sp_fail("parity", err, errlen);
  if (sp_set_stopbits(t->sp, t->stop_bits) != SP_OK) return sp_fail("stop bits", err, errlen);
  if (sp_set_flowcontrol(t->sp, fl) != SP_OK) return sp_fail("flow control", err, errlen);
  if (sp_get_port_handle(t->sp, &t->fd) != SP_OK) return sp_fail("handle", err, errlen);
  return 0;
}

static speed_t speed_of(int baud) {
  static const struct {
    int baud;
    speed_t speed;
  } rates[] = {{1200, B1200},     {2400, B2400},     {4800, B4800},     {9600, B9600},
               {19200, B19200},   {38400, B38400},   {57600, B57600},   {115200, B115200},
               {230400, B230400}, {460800, B460800}, {500000, B500000}, {576000, B576000},
               {921600, B921600}, {1000000, B1000000}, {1500000, B1500000}, {2000000, B2000000},
               {3000000, B3000000}, {4000000, B4000000}};
  for (size_t i = 0; i < sizeof rates / sizeof *rates; i++)
    if (rates[i].baud == baud) return rates[i].speed;
  return 0;
}

static int open_termios(serial_tx *t, char *err, size_t errlen) {
  t->fd = open(t->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (t->fd < 0) {
    snprintf(err, errlen, "%s: %s", t->path, strerror(errno));
    return -1;
  }
  struct termios tio;
  speed_t sp = speed_of(t->baud);
  const char *bad = NULL;
  if (tcgetattr(t->fd, &tio) != 0) bad = "not a terminal";
  else if (!sp) bad = "baud is not a standard rate";
  else if (strcmp(t->flow, "dtrdsr") == 0) bad = "flow 'dtrdsr' needs a port libserialport knows";
  if (bad) {
    snprintf(err, errlen, "%s: %s", t->path, bad);
    close(t->fd);
    t->fd = -1;
    return -1;
  }
  cfmakeraw(&tio);
  cfsetispeed(&tio, sp);
  cfsetospeed(&tio, sp);
  tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CMSPAR | CSTOPB | CRTSCTS);
  tio.c_cflag |= CLOCAL | CREAD;
  tio.c_cflag |= t->data_bits == 5 ? CS5 : t->data_bits == 6 ? CS6 : t->data_bits == 7 ? CS7 : CS8;
  if (t->parity != 'n') tio.c_cflag |= PARENB;
  if (t->parity == 'o' || t->parity == 'm') tio.c_cflag |= PARODD;
  if (t->parity == 'm' || t->parity == 's') tio.c_cflag |= CMSPAR;
  if (t->stop_bits == 2) tio.c_cflag |= CSTOPB;
  if (strcmp(t->flow, "rtscts") == 0) tio.c_cflag |= CRTSCTS;
  tio.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
  if (strcmp(t->flow, "xonxoff") == 0) tio.c_iflag |= IXON | IXOFF;
  tio.c_cc[VMIN] = 0;
  tio.c_cc[VTIME] = 0;
  if (tcsetattr(t->fd, TCSANOW, &tio) != 0) {
    snprintf(err, errlen, "%s: settings refused: %s", t->path, strerror(errno));
    close(t->fd);
    t->fd = -1;
    return -1;
  }
  return 0;
}

static int serial__open(uart_tx *base, char *err, size_t errlen) {
  serial_tx *t = (serial_tx *)base;
  struct stat st;
  if (stat(t->path, &st) != 0) {
    snprintf(err, errlen, "%s: %s", t->path, strerror(errno));
    return -1;
  }
  int rc;
  if (sp_get_port_by_name(t->path, &t->sp) == SP_OK) {
    rc = open_libserialport(t, err, errlen);
    if (rc != 0) {
      sp_close(t->sp);
      sp_free_port(t->sp);
      t->sp = NULL;
      t->fd = -1;
    }
  } else {
    t->sp = NULL;
    rc = open_termios(t, err, errlen);
  }
  if (rc != 0) return -1;
  t->poll = malloc(sizeof *t->poll);
  if (!t->poll) abort();
  uv_poll_init(t->base.loop, t->poll, t->fd);
  t->poll->data = t;
  uv_poll_start(t->poll, UV_READABLE | UV_DISCONNECT, serial__poll_cb);
  return 0;
}

static int serial__write(uart_tx *base, const void *data, size_t len, char *err, size_t errlen) {
  serial_tx *t = (serial_tx *)base;
  if (t->fd < 0) {
    snprintf(err, errlen, "%s is not open", t->path);
    return -1;
  }
  ssize_t n;
  if (t->sp) {
    int r = sp_nonblocking_write(t->sp, data, len);
    if (r < 0) return sp_fail(t->path, err, errlen);
    n = r;
  } else {
    do n = write(t->fd, data, len);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN) {
      snprintf(err, errlen, "%s: write: %s", t->path, strerror(errno));
      return -1;
    }
    if (n < 0) n = 0;
  }
  if ((size_t)n < len) {
    snprintf(err, errlen, "%s: only %zd of %zu bytes written (output buffer full)", t->path, n, len);
    return -1;
  }
  return 0;
}

static void serial__drain(uart_tx *base) {
  serial_tx *t = (serial_tx *)base;
  if (t->fd >= 0) serial__read_all(t, 0);
}

static void serial__destroy(uart_tx *base) {
  serial_tx *t = (serial_tx *)base;
  serial__close(base);
  free(t->path);
  free(t);
}

static const uart_tx_ops serial_ops = {serial__open, serial__write, serial__drain, serial__close,
                                       serial__destroy};

uart_tx *uart_serial_new(uv_loop_t *loop, console *con, const console_config *cfg, char *desc,
                         size_t desclen, char *err, size_t errlen) {
  if (!cfg->port || !*cfg->port) {
    snprintf(err, errlen, "a serial console needs a port");
    return NULL;
  }
  serial_tx *t = calloc(1, sizeof *t);
  if (!t) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  t->base.ops = &serial_ops;
  t->base.con = con;
  t->base.loop = loop;
  t->path = strdup(cfg->port);
  t->baud = cfg->baud > 0 ? cfg->baud : 115200;
  t->data_bits = cfg->data_bits ? cfg->data_bits : 8;
  t->stop_bits = cfg->stop_bits ? cfg->stop_bits : 1;
  t->parity = cfg->parity ? cfg->parity : 'n';
  snprintf(t->flow, sizeof t->flow, "%s", cfg->flow ? cfg->flow : "none");
  t->fd = -1;
  snprintf(desc, desclen, "serial %s", t->path);
  return &t->base;
}
