#include "signals.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t got;

static void record(int sig) {
  if (!got) got = sig;
}

void signals_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = record;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

int signals_take(void) {
  int s = got;
  got = 0;
  return s;
}
