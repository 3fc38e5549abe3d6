/* tcp_acked: how many bytes the peer of a TCP socket has acknowledged (Linux TCP_INFO).
 *
 * Kept apart because <linux/tcp.h>, the header with tcpi_bytes_acked, clashes with
 * <netinet/tcp.h> that uv.h includes. */
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <linux/tcp.h>

#include "tcp_acked.h"

int tcp__bytes_acked(int fd, uint64_t *acked) {
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return -1;
  if (len < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof ti.tcpi_bytes_acked) return -1;
  *acked = ti.tcpi_bytes_acked;
  return 0;
}
