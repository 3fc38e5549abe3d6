/* The telnet client codec: see uart_telnet_codec.h. */
#include "uart_telnet_codec.h"

#include <stdlib.h>
#include <string.h>

#define CR 13
#define LF 10
/* RFC 2217: the client's SET-BAUDRATE, and the server's answer (client code + 100) */
#define COMPORT_SET_BAUDRATE 1
#define COMPORT_SERVER_OFFSET 100
/* the longest subnegotiation we look into; longer ones are skipped whole */
#define SB_MAX 64
#define OUT_MAX 4096

/* One side of an option (RFC 1143, without its queue bit: we never change our
 * mind while a request is out). */
enum { OPT_OFF = 0, OPT_ON, OPT_ASKED };

typedef enum {
  ST_DATA,
  ST_IAC,    /* after IAC */
  ST_OPT,    /* after IAC WILL/WONT/DO/DONT */
  ST_SB,     /* inside IAC SB ... */
  ST_SB_IAC  /* inside SB, after IAC */
} parse_state;

struct telnet_codec {
  int baud;
  parse_state st;
  unsigned char verb;    /* WILL/WONT/DO/DONT waiting for its option */
  int cr;                /* the last data byte was CR (for CR NUL) */
  unsigned char us[256], him[256];
  int comport_refused;
  long baud_ack;
  unsigned char sb[SB_MAX];
  size_t nsb, sb_total;
  unsigned char out[OUT_MAX];
  size_t nout;
};

telnet_codec *telnet_codec_new(int baud) {
  telnet_codec *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->baud = baud > 0 ? baud : 0;
  telnet_codec_reset(c);
  return c;
}

void telnet_codec_free(telnet_codec *c) { free(c); }

static void queue(telnet_codec *c, const unsigned char *b, size_t n) {
  /* answers are a few bytes each; a server that floods requests without
   * reading our answers loses the excess rather than growing us */
  if (c->nout + n > sizeof c->out) return;
  memcpy(c->out + c->nout, b, n);
  c->nout += n;
}

static void queue3(telnet_codec *c, unsigned char verb, unsigned char opt) {
  unsigned char b[3] = {TELNET_IAC, verb, opt};
  queue(c, b, 3);
}

void telnet_codec_reset(telnet_codec *c) {
  c->st = ST_DATA;
  c->cr = 0;
  memset(c->us, OPT_OFF, sizeof c->us);
  memset(c->him, OPT_OFF, sizeof c->him);
  c->comport_refused = 0;
  c->baud_ack = 0;
  c->nsb = c->sb_total = 0;
  c->nout = 0;
  if (c->baud) {
    c->us[TELNET_OPT_COMPORT] = OPT_ASKED;
    queue3(c, TELNET_WILL, TELNET_OPT_COMPORT);
  }
}

static int accept_him(const telnet_codec *c, unsigned char opt) {
  (void)c;
  return opt == TELNET_OPT_ECHO || opt == TELNET_OPT_SGA || opt == TELNET_OPT_BINARY;
}

static int accept_us(const telnet_codec *c, unsigned char opt) {
  return opt == TELNET_OPT_SGA || opt == TELNET_OPT_BINARY || (opt == TELNET_OPT_COMPORT && c->baud);
}

/* IAC SB COM-PORT-OPTION SET-BAUDRATE <4 bytes, network order> IAC SE, with any
 * 0xFF in the value doubled. */
static void queue_set_baud(telnet_codec *c) {
  unsigned char b[16];
  size_t n = 0;
  b[n++] = TELNET_IAC;
  b[n++] = TELNET_SB;
  b[n++] = TELNET_OPT_COMPORT;
  b[n++] = COMPORT_SET_BAUDRATE;
  unsigned long v = (unsigned long)c->baud;
  for (int shift = 24; shift >= 0; shift -= 8) {
    unsigned char byte = (unsigned char)(v >> shift);
    b[n++] = byte;
    if (byte == TELNET_IAC) b[n++] = TELNET_IAC;
  }
  b[n++] = TELNET_IAC;
  b[n++] = TELNET_SE;
  queue(c, b, n);
}

static void us_on(telnet_codec *c, unsigned char opt) {
  c->us[opt] = OPT_ON;
  if (opt == TELNET_OPT_COMPORT) queue_set_baud(c);
}

static void negotiate(telnet_codec *c, unsigned char verb, unsigned char opt) {
  switch (verb) {
  case TELNET_WILL:
    if (c->him[opt] == OPT_ASKED) c->him[opt] = OPT_ON;
    else if (c->him[opt] == OPT_OFF) {
      if (accept_him(c, opt)) {
        c->him[opt] = OPT_ON;
        queue3(c, TELNET_DO, opt);
      } else {
        queue3(c, TELNET_DONT, opt);
      }
    }
    break;
  case TELNET_WONT:
    if (c->him[opt] == OPT_ON) queue3(c, TELNET_DONT, opt);
    c->him[opt] = OPT_OFF;
    break;
  case TELNET_DO:
    if (c->us[opt] == OPT_ASKED) us_on(c, opt);
    else if (c->us[opt] == OPT_OFF) {
      if (accept_us(c, opt)) {
        queue3(c, TELNET_WILL, opt);
        us_on(c, opt);
      } else {
        queue3(c, TELNET_WONT, opt);
      }
    }
    break;
  case TELNET_DONT:
    if (c->us[opt] == OPT_ON) queue3(c, TELNET_WONT, opt);
    if (opt == TELNET_OPT_COMPORT && c->baud && c->us[opt] != OPT_OFF) c->comport_refused = 1;
    c->us[opt] = OPT_OFF;
    break;
  }
}

static void subnegotiation(telnet_codec *c) {
  /* COM-PORT-OPTION, the server's answer to SET-BAUDRATE: the rate it set */
  if (c->nsb == 6 && c->sb_total == 6 && c->sb[0] == TELNET_OPT_COMPORT &&
      c->sb[1] == COMPORT_SERVER_OFFSET + COMPORT_SET_BAUDRATE)
    c->baud_ack = (long)(((unsigned long)c->sb[2] << 24) | ((unsigned long)c->sb[3] << 16) |
                         ((unsigned long)c->sb[4] << 8) | c->sb[5]);
}

static void sb_add(telnet_codec *c, unsigned char b) {
  if (c->nsb < SB_MAX) c->sb[c->nsb++] = b;
  c->sb_total++;
}

size_t telnet_codec_recv(telnet_codec *c, const unsigned char *in, size_t len, unsigned char *out) {
  size_t o = 0;
  int binary = c->him[TELNET_OPT_BINARY] == OPT_ON;
  for (size_t i = 0; i < len; i++) {
    unsigned char b = in[i];
    switch (c->st) {
    case ST_DATA:
      if (b == TELNET_IAC) {
        c->st = ST_IAC;
        break;
      }
      /* outside binary mode a lone CR travels as CR NUL */
      if (!(c->cr && b == 0 && !binary)) out[o++] = b;
      c->cr = b == CR;
      break;
    case ST_IAC:
      if (b == TELNET_IAC) {
        out[o++] = b;
        c->cr = 0;
        c->st = ST_DATA;
      } else if (b >= TELNET_WILL) { /* WILL, WONT, DO, DONT */
        c->verb = b;
        c->st = ST_OPT;
      } else if (b == TELNET_SB) {
        c->nsb = c->sb_total = 0;
        c->st = ST_SB;
      } else {
        /* NOP, DM, BRK, IP, AO, AYT, EC, EL, GA, a stray SE, or a byte that
         * is no command at all: two bytes, nothing for the console */
        c->st = ST_DATA;
      }
      break;
    case ST_OPT:
      negotiate(c, c->verb, b);
      /* an answer may switch binary mode for the bytes that follow */
      binary = c->him[TELNET_OPT_BINARY] == OPT_ON;
      c->st = ST_DATA;
      break;
    case ST_SB:
      if (b == TELNET_IAC) c->st = ST_SB_IAC;
      else sb_add(c, b);
      break;
    case ST_SB_IAC:
      if (b == TELNET_SE) {
        subnegotiation(c);
        c->st = ST_DATA;
      } else {
        /* IAC IAC is a 0xFF of the subnegotiation; IAC and anything else
         * is malformed and dropped, as gensio does, and the SB goes on */
        if (b == TELNET_IAC) sb_add(c, b);
        c->st = ST_SB;
      }
      break;
    }
  }
  return o;
}

size_t telnet_codec_send(const telnet_codec *c, const unsigned char *in, size_t len, unsigned char *out) {
  int binary = c->us[TELNET_OPT_BINARY] == OPT_ON;
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char b = in[i];
    out[o++] = b;
    if (b == TELNET_IAC) out[o++] = TELNET_IAC;
    else if (b == CR && !binary && !(i + 1 < len && in[i + 1] == LF)) out[o++] = 0;
  }
  return o;
}

const unsigned char *telnet_codec_pending(const telnet_codec *c, size_t *len) {
  *len = c->nout;
  return c->nout ? c->out : NULL;
}

void telnet_codec_sent(telnet_codec *c) { c->nout = 0; }

int telnet_codec_enabled(const telnet_codec *c, int option, int remote) {
  if (option < 0 || option > 255) return 0;
  return (remote ? c->him[option] : c->us[option]) == OPT_ON;
}

telnet_comport telnet_codec_comport(const telnet_codec *c) {
  if (!c->baud) return TELNET_COMPORT_OFF;
  if (c->comport_refused) return TELNET_COMPORT_REFUSED;
  return c->us[TELNET_OPT_COMPORT] == OPT_ON ? TELNET_COMPORT_AGREED : TELNET_COMPORT_ASKED;
}

long telnet_codec_baud_ack(const telnet_codec *c) { return c->baud_ack; }
