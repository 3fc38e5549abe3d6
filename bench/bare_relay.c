/* bare_relay: see bare_relay.h. */
#include "bare_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct way {
  int from, to;
};

/* One direction until EOF or an error; then half-closes the other side. */
static void *pump(void *arg) {
  struct way *w = arg;
  int p[2];
  if (pipe(p) == 0) {
    (void)fcntl(p[1], F_SETPIPE_SZ, 1 << 20); /* as netem's splice path */
    for (;;) {
      ssize_t n = splice(w->from, NULL, p[1], NULL, 1 << 20, SPLICE_F_MOVE);
      if (n <= 0) break;
      while (n > 0) {
        ssize_t m = splice(p[0], NULL, w->to, NULL, (size_t)n, SPLICE_F_MOVE);
        if (m <= 0) goto out;
        n -= m;
      }
    }
  out:
    close(p[0]);
    close(p[1]);
  }
  shutdown(w->to, SHUT_WR);
  return NULL;
}

static void serve(int lfd, int upstream) {
  int one = 1;
  for (;;) {
    int c = accept(lfd, NULL, NULL);
    if (c < 0) _exit(0);
    int u = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)upstream),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (u < 0 || connect(u, (struct sockaddr *)&a, sizeof a) != 0) _exit(3);
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct way up = {c, u}, down = {u, c};
    pthread_t t_up, t_down;
    pthread_create(&t_up, NULL, pump, &up);
    pthread_create(&t_down, NULL, pump, &down);
    pthread_join(t_down, NULL); /* the response is through: end the request side too */
    shutdown(c, SHUT_RDWR);
    shutdown(u, SHUT_RDWR);
    pthread_join(t_up, NULL);
    close(c);
    close(u);
  }
}

pid_t bare_relay_start(int upstream, int *port) {
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 16) ||
      getsockname(lfd, (struct sockaddr *)&a, &l)) {
    perror("bare relay");
    exit(3);
  }
  *port = ntohs(a.sin_port);
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGPIPE, SIG_IGN);
    serve(lfd, upstream);
  }
  close(lfd);
  return pid;
}
