/* tcp_acked: the bytes the peer of a TCP socket acknowledged (Linux TCP_INFO). */
#ifndef OTAHIL_NETEM_TCP_ACKED_H
#define OTAHIL_NETEM_TCP_ACKED_H

#include <stdint.h>

/* *acked = tcpi_bytes_acked of the socket fd. Returns 0, or -1 if the kernel cannot tell. */
int tcp__bytes_acked(int fd, uint64_t *acked);

#endif
