/* The telnet transport: the codec alone (a stream fed whole, byte by byte and in
 * random splits gives the same data and the same answers; negotiation without
 * loops; 0xFF and CR on the way out; RFC 2217), then the transport against a
 * real TCP server on 127.0.0.1 that talks telnet as ser2net does. Every wait
 * runs the loop with a deadline. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "../common/check_run.h"
#include "console_fixture.h"
#include "uart_console.h"
#include "uart_telnet_codec.h"

#define IAC "\xff"
#define WILL "\xfb"
#define WONT "\xfc"
#define DO "\xfd"
#define DONT "\xfe"
#define SB "\xfa"
#define SE "\xf0"

/* What ser2net 4.3 (gensio) sends when a client connects to `telnet`; with
 * `telnet(rfc2217)` it adds DO COM-PORT-OPTION. */
#define SER2NET_HELLO IAC WILL "\x03" IAC DO "\x03" IAC WILL "\x01" IAC DONT "\x01" IAC DO "\x00" IAC WILL "\x00"
#define SER2NET_2217 IAC DO "\x2c"

typedef struct result {
  unsigned char data[1024], answers[1024];
  size_t ndata, nanswers;
} result;

/* Feeds `in` in pieces of the sizes `split` returns, collecting the data and
 * the answers as a transport would (answers taken after every piece). */
static void feed(telnet_codec *c, const unsigned char *in, size_t len, size_t (*split)(size_t left), result *r) {
  memset(r, 0, sizeof *r);
  size_t i = 0;
  while (i < len) {
    size_t n = split(len - i);
    if (n > len - i) n = len - i;
    unsigned char buf[1024];
    memcpy(buf, in + i, n);
    size_t got = telnet_codec_recv(c, buf, n, buf); /* in place, as the transport does */
    ck_assert_uint_le(got, n);
    ck_assert_uint_lt(r->ndata + got, sizeof r->data);
    memcpy(r->data + r->ndata, buf, got);
    r->ndata += got;
    size_t np;
    const unsigned char *p = telnet_codec_pending(c, &np);
    if (p) {
      ck_assert_uint_lt(r->nanswers + np, sizeof r->answers);
      memcpy(r->answers + r->nanswers, p, np);
      r->nanswers += np;
      telnet_codec_sent(c);
    }
    i += n;
  }
}

static size_t whole(size_t left) { return left; }
static size_t one(size_t left) {
  (void)left;
  return 1;
}
static size_t random_piece(size_t left) {
  (void)left;
  return 1 + (size_t)(rand() % 7);
}

static void assert_bytes(const unsigned char *got, size_t ngot, const char *want, size_t nwant, const char *what) {
  ck_assert_msg(ngot == nwant && memcmp(got, want, nwant) == 0, "%s: %zu bytes, want %zu", what, ngot, nwant);
}

/* ser2net's greeting, data with an escaped 0xFF, every kind of command in the
 * middle of lines, a subnegotiation with an escaped 0xFF, CR NUL before and
 * after binary mode comes on. */
START_TEST(recv_same_whatever_the_splits) {
  static const char stream[] =
      "boot\r\0ok\r\n"                     /* before binary: CR NUL is a CR */
      IAC "\xf1"                           /* NOP */
      "val" IAC IAC "ue\r\n"               /* a 0xFF data byte */
      IAC "\xf6"                           /* AYT */
      IAC SB "\x18\x01" IAC IAC "x" IAC SE /* TERMINAL-TYPE SEND with a 0xFF in it */
      IAC WILL "\x18"                      /* refused */
      IAC DO "\x1f"                        /* NAWS: refused */
      SER2NET_HELLO SER2NET_2217           /* binary both ways, 2217 refused (no baud) */
      IAC WILL "\x03"                      /* again: no answer (no loop) */
      "raw\r\0bin\xfe\r\n"                 /* binary now: the NUL after CR is data */
      IAC SE "end" IAC "\x10" "!";         /* a stray SE, and IAC before a non-command */
  static const char want_data[] = "boot\rok\r\nval\xffue\r\nraw\r\0bin\xfe\r\nend!";
  static const char want_answers[] = IAC DONT "\x18" IAC WONT "\x1f" IAC DO "\x03" IAC WILL "\x03" IAC DO "\x01" IAC WILL
      "\x00" IAC DO "\x00" IAC WONT "\x2c";
  size_t len = sizeof stream - 1;
  telnet_codec *c = telnet_codec_new(0);
  ck_assert_ptr_nonnull(c);
  result r;
  feed(c, (const unsigned char *)stream, len, whole, &r);
  assert_bytes(r.data, r.ndata, want_data, sizeof want_data - 1, "data, whole");
  assert_bytes(r.answers, r.nanswers, want_answers, sizeof want_answers - 1, "answers, whole");
  ck_assert(telnet_codec_enabled(c, TELNET_OPT_BINARY, 1));
  ck_assert(telnet_codec_enabled(c, TELNET_OPT_BINARY, 0));
  ck_assert(telnet_codec_enabled(c, TELNET_OPT_ECHO, 1));
  ck_assert(!telnet_codec_enabled(c, TELNET_OPT_ECHO, 0));
  ck_assert_int_eq(telnet_codec_comport(c), TELNET_COMPORT_OFF);

  telnet_codec_reset(c);
  result b;
  feed(c, (const unsigned char *)stream, len, one, &b);
  assert_bytes(b.data, b.ndata, want_data, sizeof want_data - 1, "data, byte by byte");
  assert_bytes(b.answers, b.nanswers, want_answers, sizeof want_answers - 1, "answers, byte by byte");

  srand(2217);
  for (int round = 0; round < 200; round++) {
    telnet_codec_reset(c);
    result p;
    feed(c, (const unsigned char *)stream, len, random_piece, &p);
    assert_bytes(p.data, p.ndata, want_data, sizeof want_data - 1, "data, random splits");
    assert_bytes(p.answers, p.nanswers, want_answers, sizeof want_answers - 1, "answers, random splits");
  }
  telnet_codec_free(c);
}
END_TEST

/* A long subnegotiation is skipped whole, and reset forgets a half-read one. */
START_TEST(recv_long_subnegotiation_and_reset) {
  telnet_codec *c = telnet_codec_new(0);
  unsigned char in[600], out[600];
  size_t n = 0;
  memcpy(in + n, IAC SB "\x2c\x6a", 4);
  n += 4;
  for (int i = 0; i < 500; i++) in[n++] = (unsigned char)('a' + i % 26);
  memcpy(in + n, IAC SE "after", 7);
  n += 7;
  size_t got = telnet_codec_recv(c, in, n, out);
  assert_bytes(out, got, "after", 5, "after a long SB");
  /* a connection dropped inside a subnegotiation: the next one starts clean */
  got = telnet_codec_recv(c, (const unsigned char *)IAC SB "\x2c" "abc", 6, out);
  ck_assert_uint_eq(got, 0);
  telnet_codec_reset(c);
  got = telnet_codec_recv(c, (const unsigned char *)"hello", 5, out);
  assert_bytes(out, got, "hello", 5, "after reset");
  telnet_codec_free(c);
}
END_TEST

/* RFC 1143: a request for the state an option is in gets no answer; an option
 * the server turns off is acknowledged once. */
START_TEST(negotiation_has_no_loops) {
  telnet_codec *c = telnet_codec_new(0);
  size_t n;
  ck_assert_ptr_null(telnet_codec_pending(c, &n)); /* we offer nothing */
  result r;
  static const char s1[] = IAC WILL "\x01" IAC WILL "\x01" IAC DO "\x03" IAC DO "\x03" IAC WONT "\x01" IAC WONT
      "\x01" IAC DONT "\x03" IAC DONT "\x03" IAC DONT "\x05" IAC WONT "\x05";
  feed(c, (const unsigned char *)s1, sizeof s1 - 1, whole, &r);
  static const char want[] = IAC DO "\x01" IAC WILL "\x03" IAC DONT "\x01" IAC WONT "\x03";
  assert_bytes(r.answers, r.nanswers, want, sizeof want - 1, "answers");
  ck_assert_uint_eq(r.ndata, 0);
  ck_assert(!telnet_codec_enabled(c, TELNET_OPT_ECHO, 1));
  telnet_codec_free(c);
}
END_TEST

START_TEST(send_doubles_iac_and_minds_cr) {
  telnet_codec *c = telnet_codec_new(0);
  unsigned char out[64];
  /* not binary: CR LF stays, a lone CR (also one that ends the call) is CR NUL */
  static const char in[] = "a\xff" "b\r\nc\rd\r";
  size_t n = telnet_codec_send(c, (const unsigned char *)in, sizeof in - 1, out);
  static const char want[] = "a\xff\xff" "b\r\nc\r\0d\r\0";
  assert_bytes(out, n, want, sizeof want - 1, "not binary");
  /* the server asks us to send binary: bytes as they are, 0xFF still doubled */
  result r;
  feed(c, (const unsigned char *)IAC DO "\x00", 3, whole, &r);
  assert_bytes(r.answers, r.nanswers, IAC WILL "\x00", 3, "binary accepted");
  n = telnet_codec_send(c, (const unsigned char *)in, sizeof in - 1, out);
  static const char want_bin[] = "a\xff\xff" "b\r\nc\rd\r";
  assert_bytes(out, n, want_bin, sizeof want_bin - 1, "binary");
  n = telnet_codec_send(c, (const unsigned char *)"\xff\xff", 2, out);
  assert_bytes(out, n, "\xff\xff\xff\xff", 4, "only 0xFF");
  telnet_codec_free(c);
}
END_TEST

START_TEST(rfc2217_baud) {
  /* no baud: 2217 is refused and never offered */
  telnet_codec *c = telnet_codec_new(0);
  result r;
  feed(c, (const unsigned char *)SER2NET_2217, 3, whole, &r);
  assert_bytes(r.answers, r.nanswers, IAC WONT "\x2c", 3, "no baud: WONT");
  telnet_codec_free(c);

  /* a baud: offered at once, SET-BAUDRATE when the server agrees, its answer kept */
  c = telnet_codec_new(9600);
  size_t n;
  const unsigned char *p = telnet_codec_pending(c, &n);
  assert_bytes(p, n, IAC WILL "\x2c", 3, "offer");
  telnet_codec_sent(c);
  ck_assert_int_eq(telnet_codec_comport(c), TELNET_COMPORT_ASKED);
  feed(c, (const unsigned char *)SER2NET_2217, 3, whole, &r);
  static const char set[] = IAC SB "\x2c\x01\x00\x00\x25\x80" IAC SE;
  assert_bytes(r.answers, r.nanswers, set, sizeof set - 1, "SET-BAUDRATE 9600");
  ck_assert_int_eq(telnet_codec_comport(c), TELNET_COMPORT_AGREED);
  ck_assert_int_eq(telnet_codec_baud_ack(c), 0);
  static const char ack[] = IAC SB "\x2c\x65\x00\x00\x25\x80" IAC SE "x";
  feed(c, (const unsigned char *)ack, sizeof ack - 1, one, &r);
  assert_bytes(r.data, r.ndata, "x", 1, "data after the answer");
  ck_assert_int_eq(telnet_codec_baud_ack(c), 9600);
  /* ser2net repeats DO after our WILL: already on, no answer */
  feed(c, (const unsigned char *)SER2NET_2217, 3, whole, &r);
  ck_assert_uint_eq(r.nanswers, 0);

  /* a new connection to a plain telnet server: offered again, refused */
  telnet_codec_reset(c);
  p = telnet_codec_pending(c, &n);
  assert_bytes(p, n, IAC WILL "\x2c", 3, "offer after reset");
  telnet_codec_sent(c);
  ck_assert_int_eq(telnet_codec_baud_ack(c), 0);
  feed(c, (const unsigned char *)IAC DONT "\x2c", 3, whole, &r);
  ck_assert_uint_eq(r.nanswers, 0);
  ck_assert_int_eq(telnet_codec_comport(c), TELNET_COMPORT_REFUSED);
  telnet_codec_free(c);

  /* a rate with a 0xFF byte in it is escaped inside the subnegotiation */
  c = telnet_codec_new(0x1FF);
  telnet_codec_sent(c);
  feed(c, (const unsigned char *)IAC DO "\x2c", 3, whole, &r);
  static const char set_ff[] = IAC SB "\x2c\x01\x00\x00\x01\xff\xff" IAC SE;
  assert_bytes(r.answers, r.nanswers, set_ff, sizeof set_ff - 1, "escaped rate");
  telnet_codec_free(c);
}
END_TEST

/* ---- the transport against a telnet server on 127.0.0.1 --------------------- */

START_TEST(transport_filters_answers_and_encodes) {
  static const char hello[] = SER2NET_HELLO "U-Boot " IAC IAC "\r\nlog" IAC "\xf1" "in: ";
  test_server sv = {.hello = hello, .nhello = sizeof hello - 1};
  int port = srv_start(&sv);
  seen s = {0};
  console_config cfg = {.transport = CONSOLE_TELNET, .host = "127.0.0.1", .tcp_port = port, .retry_s = 0.05};
  console *c = open_console(&cfg, &s);
  char err[256];
  ck_assert_ptr_nonnull(strstr(console_describe(c), "telnet 127.0.0.1:"));
  ck_assert(run_until_fn(seen_is_up, c, 5));
  /* the answers to ser2net's greeting */
  static const char answers[] = IAC DO "\x03" IAC WILL "\x03" IAC DO "\x01" IAC WILL "\x00" IAC DO "\x00";
  srv_want w = {&sv, answers, sizeof answers - 1};
  ck_assert(run_until_fn(srv_has, &w, 5));
  /* the capture holds the board's bytes only */
  srv_write(&sv, "root\r\n", 6);
  ck_assert(run_until(&s.nlines, 2, 5));
  ck_assert_str_eq(s.lines[0], "U-Boot \xff");
  ck_assert_str_eq(s.lines[1], "login: root");
  size_t len;
  const char *cap = uart_capture_peek(console_capture(c), 0, &len, NULL);
  static const char want_cap[] = "U-Boot \xff\r\nlogin: root\r\n";
  assert_bytes((const unsigned char *)cap, len, want_cap, sizeof want_cap - 1, "capture");
  /* binary both ways now: 0xFF doubled, CR as it is */
  sv.ngot = 0;
  ck_assert_int_eq(console_send(c, "pw\xff\r", 4, err, sizeof err), 0);
  srv_want w2 = {&sv, "pw\xff\xff\r", 5};
  ck_assert(run_until_fn(srv_has, &w2, 5));
  ck_assert_uint_eq(sv.ngot, 5);
  close_console(c);
  srv_stop(&sv);
}
END_TEST

/* A server that does not offer binary gets CR NUL, and a new connection starts
 * the negotiation over. */
START_TEST(transport_not_binary_and_reconnect) {
  static const char hello[] = IAC WILL "\x01" "> ";
  test_server sv = {.hello = hello, .nhello = sizeof hello - 1};
  int port = srv_start(&sv);
  seen s = {0};
  console_config cfg = {.transport = CONSOLE_TELNET, .host = "127.0.0.1", .tcp_port = port, .retry_s = 0.05};
  console *c = open_console(&cfg, &s);
  char err[256];
  ck_assert(run_until_fn(seen_is_up, c, 5));
  srv_want w = {&sv, IAC DO "\x01", 3};
  ck_assert(run_until_fn(srv_has, &w, 5));
  ck_assert_int_eq(console_send(c, "a\rb\r\n", 5, err, sizeof err), 0);
  srv_want w2 = {&sv, "a\r\0b\r\n", 6};
  ck_assert(run_until_fn(srv_has, &w2, 5));
  /* the server drops the connection; the next one greets again and gets the
   * same answer (the codec starts over), and the console is up after a gap */
  ck_assert_int_eq(s.ups, 0);
  srv_drop(&sv);
  ck_assert(run_until(&s.downs, 1, 5));
  ck_assert(run_until(&s.ups, 1, 5));
  ck_assert_int_eq(sv.accepted, 2);
  srv_want w3 = {&sv, IAC DO "\x01", 3};
  ck_assert(run_until_fn(srv_has, &w3, 5));
  size_t len;
  const char *cap = uart_capture_peek(console_capture(c), 0, &len, NULL);
  assert_bytes((const unsigned char *)cap, len, "> > ", 4, "capture across the reconnect");
  close_console(c);
  srv_stop(&sv);
}
END_TEST

/* baud with a server that refuses RFC 2217: not up while it refuses, and the
 * reason says why */
START_TEST(transport_2217_refused) {
  static const char hello[] = SER2NET_HELLO IAC DONT "\x2c" "garbage at 115200";
  test_server sv = {.hello = hello, .nhello = sizeof hello - 1};
  int port = srv_start(&sv);
  seen s = {0};
  console_config cfg = {
      .transport = CONSOLE_TELNET, .host = "127.0.0.1", .tcp_port = port, .retry_s = 0.05, .baud = 9600};
  console *c = open_console(&cfg, &s);
  ck_assert_ptr_nonnull(strstr(console_describe(c), "RFC 2217, baud 9600"));
  ck_assert(run_until(&sv.accepted, 3, 10)); /* retried */
  ck_assert_int_eq(console_is_up(c), 0);
  ck_assert_uint_eq(console_bytes(c), 0);
  /* the server is set right (telnet(rfc2217)): up, after a gap that says why */
  static const char agree[] = SER2NET_HELLO SER2NET_2217;
  sv.hello = agree;
  sv.nhello = sizeof agree - 1;
  ck_assert(run_until(&s.ups, 1, 5));
  ck_assert_msg(strstr(s.why, "refused RFC 2217 (COM-PORT-OPTION), so baud 9600 cannot be set") != NULL, "%s", s.why);
  ck_assert_ptr_nonnull(strstr(s.why, "127.0.0.1:"));
  ck_assert_uint_eq(console_bytes(c), 0); /* what the refusing server sent is not the board's */
  close_console(c);
  srv_stop(&sv);
}
END_TEST

/* baud with a server that agrees: SET-BAUDRATE goes out, then the console is up */
START_TEST(transport_2217_agreed) {
  static const char hello[] = SER2NET_HELLO SER2NET_2217;
  test_server sv = {.hello = hello, .nhello = sizeof hello - 1};
  int port = srv_start(&sv);
  seen s = {0};
  console_config cfg = {
      .transport = CONSOLE_TELNET, .host = "127.0.0.1", .tcp_port = port, .retry_s = 0.05, .baud = 57600};
  console *c = open_console(&cfg, &s);
  static const char set[] = IAC SB "\x2c\x01\x00\x00\xe1\x00" IAC SE;
  srv_want w = {&sv, set, sizeof set - 1};
  ck_assert(run_until_fn(srv_has, &w, 5));
  srv_want offer = {&sv, IAC WILL "\x2c", 3};
  ck_assert(srv_has(&offer));
  /* the server answers with the rate it set */
  static const char ack[] = IAC SB "\x2c\x65\x00\x00\xe1\x00" IAC SE "hi\r\n";
  srv_write(&sv, ack, sizeof ack - 1);
  ck_assert(run_until_fn(seen_is_up, c, 5));
  ck_assert_int_eq(sv.accepted, 1);
  close_console(c);
  srv_stop(&sv);
}
END_TEST

int main(void) {
  Suite *s = suite_create("uart_telnet");
  TCase *codec = tcase_create("codec");
  tcase_add_test(codec, recv_same_whatever_the_splits);
  tcase_add_test(codec, recv_long_subnegotiation_and_reset);
  tcase_add_test(codec, negotiation_has_no_loops);
  tcase_add_test(codec, send_doubles_iac_and_minds_cr);
  tcase_add_test(codec, rfc2217_baud);
  suite_add_tcase(s, codec);
  TCase *tr = tcase_create("transport");
  tcase_add_checked_fixture(tr, fixture_setup, fixture_teardown);
  tcase_set_timeout(tr, 30 * test_mult());
  tcase_add_test(tr, transport_filters_answers_and_encodes);
  tcase_add_test(tr, transport_not_binary_and_reconnect);
  tcase_add_test(tr, transport_2217_refused);
  tcase_add_test(tr, transport_2217_agreed);
  suite_add_tcase(s, tr);
  return check_run(s);
}
