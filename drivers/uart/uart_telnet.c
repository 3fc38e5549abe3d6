/* The telnet transport: the tcp transport (connect, probation, reconnect) with
 * a telnet codec (uart_telnet_codec.h) as its byte filter, for console servers
 * such as ser2net's `accepter: telnet,...`. One codec serves the transport; it
 * is reset for every new connection.
 *
 * With a baud (RFC 2217, ser2net's `telnet(rfc2217)`), a connection is usable
 * only once the server has agreed to COM-PORT-OPTION within the probation, so
 * that the console never reads a board at a rate nobody set; a server that
 * refuses it fails the open with the reason (and retrying goes on, which shows
 * in the console's down/up events). */
#include <stdio.h>
#include <stdlib.h>

#include "uart_tcp.h"
#include "uart_telnet_codec.h"

typedef struct telnet_filter {
  telnet_codec *codec;
  int baud;
} telnet_filter;

static void tf__reset(void *arg) { telnet_codec_reset(((telnet_filter *)arg)->codec); }

static size_t tf__recv(void *arg, char *data, size_t len) {
  telnet_filter *f = arg;
  return telnet_codec_recv(f->codec, (const unsigned char *)data, len, (unsigned char *)data);
}

static size_t tf__encode(void *arg, const char *in, size_t len, char *out) {
  telnet_filter *f = arg;
  return telnet_codec_send(f->codec, (const unsigned char *)in, len, (unsigned char *)out);
}

static const char *tf__pending(void *arg, size_t *len) {
  telnet_filter *f = arg;
  return (const char *)telnet_codec_pending(f->codec, len);
}

static void tf__sent(void *arg) { telnet_codec_sent(((telnet_filter *)arg)->codec); }

static int tf__ready(void *arg, char *why, size_t whylen) {
  telnet_filter *f = arg;
  long ack = telnet_codec_baud_ack(f->codec);
  switch (telnet_codec_comport(f->codec)) {
  case TELNET_COMPORT_OFF:
    return 0;
  case TELNET_COMPORT_AGREED:
    /* the server's answer usually comes within the probation; a rate other
     * than the one asked for (the port cannot do it) is worth failing on */
    if (ack != 0 && ack != f->baud) {
      snprintf(why, whylen, "RFC 2217: asked for baud %d, the server set %ld", f->baud, ack);
      return -1;
    }
    return 0;
  case TELNET_COMPORT_REFUSED:
    snprintf(why, whylen,
             "the telnet server refused RFC 2217 (COM-PORT-OPTION), so baud %d cannot be set "
             "(ser2net: accepter telnet(rfc2217),...; or leave baud out)",
             f->baud);
    return -1;
  case TELNET_COMPORT_ASKED:
    break;
  }
  snprintf(why, whylen, "the telnet server did not answer the RFC 2217 offer (WILL COM-PORT-OPTION) in time");
  return -1;
}

static void tf__free(void *arg) {
  telnet_filter *f = arg;
  telnet_codec_free(f->codec);
  free(f);
}

uart_tx *uart_telnet_new(uv_loop_t *loop, console *con, const console_config *cfg, char *desc,
                         size_t desclen, char *err, size_t errlen) {
  if (cfg->baud < 0) {
    snprintf(err, errlen, "a telnet console's baud must be positive (or 0: not set)");
    return NULL;
  }
  telnet_filter *f = calloc(1, sizeof *f);
  if (f) f->codec = telnet_codec_new(cfg->baud);
  if (!f || !f->codec) {
    free(f);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  f->baud = cfg->baud;
  uart_tcp_filter filter = {f, tf__reset, tf__recv, tf__encode, tf__pending, tf__sent, tf__ready, tf__free};
  uart_tx *t = uart_tcp_new_filtered(loop, con, cfg, "telnet", &filter, desc, desclen, err, errlen);
  if (t && cfg->baud)
    snprintf(desc, desclen, "telnet %s:%d (RFC 2217, baud %d)", cfg->host, cfg->tcp_port, cfg->baud);
  return t;
}
