/* uart_telnet_codec: the client side of a telnet connection (RFC 854) as a
 * console needs it, with no I/O: bytes in, console data and answers out. The
 * telnet transport (uart_telnet.c) runs one per connection; tests feed it.
 *
 * Received: every IAC sequence is taken out of the stream (IAC IAC is one 0xFF
 * data byte; IAC WILL/WONT/DO/DONT opt; IAC SB ... IAC SE; the two-byte
 * commands), whatever the reads' boundaries: the state carries across calls.
 * Outside binary mode CR NUL becomes CR (RFC 854).
 *
 * Negotiation (RFC 1143's rule: never answer a request for the state an option
 * is already in, so no loops): the server may ECHO, SUPPRESS-GO-AHEAD and
 * TRANSMIT-BINARY (we answer DO); we agree to SUPPRESS-GO-AHEAD (we never send
 * go-aheads anyway) and TRANSMIT-BINARY (WILL), and to COM-PORT-OPTION (RFC
 * 2217) only when a baud is set; everything else is refused (DONT/WONT). We
 * offer nothing, except WILL COM-PORT-OPTION when a baud is set.
 *
 * Binary mode is accepted because ser2net (gensio) offers it both ways at once
 * and never translates CR: outside binary mode RFC 854 makes us send a lone CR
 * as CR NUL, and ser2net would hand the NUL to the board. With binary on, the
 * bytes reach the board exactly as the scenario sent them (0xFF doubled on the
 * wire only). A server that refuses binary gets CR NUL / CR LF per RFC 854.
 *
 * RFC 2217: with a baud, once the server agrees (DO COM-PORT-OPTION) the codec
 * queues SET-BAUDRATE; the server's answer (the rate it set) is kept. */
#ifndef OTAHIL_UART_TELNET_CODEC_H
#define OTAHIL_UART_TELNET_CODEC_H

#include <stddef.h>

#define TELNET_IAC 255
#define TELNET_DONT 254
#define TELNET_DO 253
#define TELNET_WONT 252
#define TELNET_WILL 251
#define TELNET_SB 250
#define TELNET_SE 240
#define TELNET_OPT_BINARY 0
#define TELNET_OPT_ECHO 1
#define TELNET_OPT_SGA 3
#define TELNET_OPT_COMPORT 44

typedef struct telnet_codec telnet_codec;

/* baud: 0 = no RFC 2217 at all; else the rate to ask for. NULL when out of memory. */
telnet_codec *telnet_codec_new(int baud);
void telnet_codec_free(telnet_codec *c);

/* A new connection: every option off, parser at the start, nothing queued but
 * the opening offer (WILL COM-PORT-OPTION when a baud is set). */
void telnet_codec_reset(telnet_codec *c);

/* Takes `len` received bytes and writes the console data among them to `out`
 * (never more than len bytes; out may be `in`). Returns the data's length.
 * Answers to the server are queued (telnet_codec_pending). */
size_t telnet_codec_recv(telnet_codec *c, const unsigned char *in, size_t len, unsigned char *out);

/* Encodes console data for the wire: 0xFF doubled, and unless our side is in
 * binary mode, CR sent as CR LF when LF follows in the same call, else CR NUL.
 * `out` has room for 2 * len. Returns the encoded length. */
size_t telnet_codec_send(const telnet_codec *c, const unsigned char *in, size_t len, unsigned char *out);

/* Bytes queued for the server (answers, offers, the baud request), owned by
 * the codec and valid until the next call; NULL when none. telnet_codec_sent
 * drops them once written. */
const unsigned char *telnet_codec_pending(const telnet_codec *c, size_t *len);
void telnet_codec_sent(telnet_codec *c);

/* Whether an option is on: `remote` 1 for the server's side (it WILL), 0 for
 * ours (we WILL). */
int telnet_codec_enabled(const telnet_codec *c, int option, int remote);

typedef enum {
  TELNET_COMPORT_OFF = 0, /* no baud: not negotiated */
  TELNET_COMPORT_ASKED,   /* offered, no answer yet */
  TELNET_COMPORT_AGREED,  /* the server agreed; SET-BAUDRATE is queued or sent */
  TELNET_COMPORT_REFUSED  /* the server said DONT COM-PORT-OPTION */
} telnet_comport;

telnet_comport telnet_codec_comport(const telnet_codec *c);

/* The baud rate the server reported after SET-BAUDRATE; 0 before its answer. */
long telnet_codec_baud_ack(const telnet_codec *c);

#endif
