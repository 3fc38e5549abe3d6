/* serial-dtr: a relay wired to a serial port's DTR or RTS line (the cheap
 * USB-serial relay boards of many racks), driven through libserialport.
 * active = "high": the relay is on while the line is asserted; "low": while
 * it is deasserted. The port is opened at the first call and kept open, with
 * HUPCL cleared, so the line keeps its level between calls and after otahil
 * exits (opening a port asserts DTR and RTS: the first call may glitch them).
 * The state is read back from the port's modem-control bits (TIOCMGET). */
#include <errno.h>
#include <libserialport.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>

#include "power_int.h"

static const char *const keys[] = {"port", "line", "active", NULL};
static const char *const lines[] = {"dtr", "rts", NULL};
static const char *const levels[] = {"high", "low", NULL};

typedef struct dtr {
  struct sp_port *port;
  int rts;        /* the line: 0 = DTR, 1 = RTS */
  int active_low; /* on = deasserted */
} dtr;

static int dtr_check(const cJSON *cfg, char *err, size_t errlen) {
  if (power__check_string(cfg, "port", 1, err, errlen) || power__check_choice(cfg, "line", lines, err, errlen) ||
      power__check_choice(cfg, "active", levels, err, errlen))
    return -1;
  return 0;
}

static int dtr_open_cfg(power *p, char *err, size_t errlen) {
  (void)err;
  (void)errlen;
  dtr *d = calloc(1, sizeof *d);
  if (!d) abort();
  const char *line = power__str(p->cfg, "line"), *active = power__str(p->cfg, "active");
  d->rts = line && strcmp(line, "rts") == 0;
  d->active_low = active && strcmp(active, "low") == 0;
  p->priv = d;
  return 0;
}

static void sp_why(const char *port, const char *what, char *err, size_t errlen) {
  char *m = sp_last_error_message();
  snprintf(err, errlen, "port '%s': %s: %s", port, what, m ? m : "error");
  sp_free_error_message(m);
}

/* Opens the port on first use. */
static int ensure_open(power *p, char *err, size_t errlen) {
  dtr *d = p->priv;
  if (d->port) return 0;
  const char *name = power__str(p->cfg, "port");
  struct sp_port *port = NULL;
  if (sp_get_port_by_name(name, &port) != SP_OK) {
    /* libserialport takes only ports the kernel lists in /sys/class/tty */
    struct stat st;
    if (stat(name, &st) != 0)
      snprintf(err, errlen, "port '%s': %s", name, strerror(errno));
    else
      snprintf(err, errlen, "port '%s': not a serial port libserialport can drive (a pseudo-terminal has no "
               "modem lines)", name);
    return -1;
  }
  if (sp_open(port, SP_MODE_READ_WRITE) != SP_OK) {
    sp_why(name, "cannot open", err, errlen);
    sp_free_port(port);
    return -1;
  }
  /* closing must not drop the lines: the relay stays as the last call left it */
  int fd = -1;
  struct termios t;
  if (sp_get_port_handle(port, &fd) == SP_OK && tcgetattr(fd, &t) == 0) {
    t.c_cflag &= ~(tcflag_t)HUPCL;
    tcsetattr(fd, TCSANOW, &t);
  }
  d->port = port;
  return 0;
}

static int set_line(power *p, int on, char *err, size_t errlen) {
  dtr *d = p->priv;
  if (ensure_open(p, err, errlen) != 0) return -1;
  int assert = d->active_low ? !on : on;
  enum sp_return rc = d->rts ? sp_set_rts(d->port, assert ? SP_RTS_ON : SP_RTS_OFF)
                             : sp_set_dtr(d->port, assert ? SP_DTR_ON : SP_DTR_OFF);
  if (rc != SP_OK) {
    char what[64];
    snprintf(what, sizeof what, "cannot %s %s", assert ? "assert" : "deassert", d->rts ? "RTS" : "DTR");
    sp_why(power__str(p->cfg, "port"), what, err, errlen);
    return -1;
  }
  return 0;
}

static int dtr_on(power *p, const power_opts *o, double timeout, char *err, size_t errlen) {
  (void)o;
  (void)timeout; /* modem-control ioctls do not block */
  return set_line(p, 1, err, errlen);
}

static int dtr_off(power *p, const power_opts *o, double timeout, char *err, size_t errlen) {
  (void)o;
  (void)timeout;
  return set_line(p, 0, err, errlen);
}

static int dtr_state(power *p, const power_opts *o, double timeout, power_state_t *st, char *err,
                     size_t errlen) {
  (void)o;
  (void)timeout;
  dtr *d = p->priv;
  if (ensure_open(p, err, errlen) != 0) return -1;
  struct sp_port_config *c = NULL;
  if (sp_new_config(&c) != SP_OK || sp_get_config(d->port, c) != SP_OK) {
    sp_why(power__str(p->cfg, "port"), "cannot read the modem lines", err, errlen);
    sp_free_config(c);
    return -1;
  }
  int asserted = 0;
  if (d->rts) {
    enum sp_rts r;
    sp_get_config_rts(c, &r);
    asserted = r == SP_RTS_ON;
  } else {
    enum sp_dtr r;
    sp_get_config_dtr(c, &r);
    asserted = r == SP_DTR_ON;
  }
  sp_free_config(c);
  *st = (d->active_low ? !asserted : asserted) ? POWER_ON : POWER_OFF;
  return 0;
}

static void dtr_close(power *p) {
  dtr *d = p->priv;
  if (!d) return;
  if (d->port) {
    sp_close(d->port);
    sp_free_port(d->port);
  }
  free(d);
}

const power_ops power_serial_dtr_ops = {
    .name = "serial-dtr",
    .keys = keys,
    .check = dtr_check,
    .open = dtr_open_cfg,
    .on = dtr_on,
    .off = dtr_off,
    .state = dtr_state,
    .close = dtr_close,
};
