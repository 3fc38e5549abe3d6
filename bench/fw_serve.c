/* fw_serve: otahil's firmware server (cloud/fwserver.c, libmicrohttpd on a libuv loop)
 * alone, for netem_bench's "real stack" figure: serves FILE as /fw/bench on a free
 * loopback port, prints "listening 127.0.0.1:PORT", runs until SIGTERM or SIGINT.
 * usage: fw_serve FILE */
#include <signal.h>
#include <stdio.h>
#include <uv.h>

#include "fwserver.h"

static void on_signal(uv_signal_t *h, int signum) {
  (void)signum;
  uv_stop(h->loop);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fw_serve FILE\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  uv_loop_t *loop = uv_default_loop();
  fwserver *s;
  char err[256];
  if (fwserver_start(loop, "127.0.0.1", 0, &s, err, sizeof err) != 0 ||
      fwserver_add(s, "bench", argv[1], 0, err, sizeof err) != 0) {
    fprintf(stderr, "fw_serve: %s\n", err);
    return 1;
  }
  printf("listening 127.0.0.1:%u\n", (unsigned)fwserver_port(s));
  fflush(stdout);
  uv_signal_t term, intr;
  uv_signal_init(loop, &term);
  uv_signal_init(loop, &intr);
  uv_signal_start(&term, on_signal, SIGTERM);
  uv_signal_start(&intr, on_signal, SIGINT);
  uv_run(loop, UV_RUN_DEFAULT);
  fwserver_close(s, NULL, NULL);
  uv_close((uv_handle_t *)&term, NULL);
  uv_close((uv_handle_t *)&intr, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  return 0;
}
