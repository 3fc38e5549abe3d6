#include "mcu_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "errmsg.h"

uint32_t mcu_get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void mcu_put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

size_t mcu_frame_encode(const mcu_frame *f, uint8_t *out) {
  size_t n = 0;
  out[n++] = MCU_SOF;
  out[n++] = f->type;
  out[n++] = (uint8_t)f->seq;
  out[n++] = (uint8_t)(f->seq >> 8);
  out[n++] = (uint8_t)f->len;
  out[n++] = (uint8_t)(f->len >> 8);
  memcpy(out + n, f->payload, f->len);
  n += f->len;
  uint32_t crc = (uint32_t)crc32(0L, out + 1, (uInt)(n - 1));
  mcu_put32(out + n, crc);
  return n + 4;
}

int mcu_frame_send(int fd, const mcu_frame *f) {
  uint8_t buf[MCU_FRAME_MAX];
  size_t n = mcu_frame_encode(f, buf), off = 0;
  while (off < n) {
    ssize_t w = write(fd, buf + off, n - off);
    if (w < 0 && (errno == EINTR || errno == EAGAIN)) {
      struct pollfd p = {fd, POLLOUT, 0};
      poll(&p, 1, 50);
      continue;
    }
    if (w <= 0) return -1;
    off += (size_t)w;
  }
  return 0;
}

static long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* One byte, waiting at most `ms`. Returns 1, 0 on timeout, -1 on error. */
static int read_byte(int fd, uint8_t *b, long ms) {
  long end = now_ms() + ms;
  for (;;) {
    ssize_t n = read(fd, b, 1);
    if (n == 1) return 1;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return -1;
    long left = end - now_ms();
    if (left <= 0) return 0;
    struct pollfd p = {fd, POLLIN, 0};
    poll(&p, 1, (int)(left > 20 ? 20 : left));
  }
}

/* After a damaged frame, the rest of it may still be arriving: wait until the
 * line is quiet so the next frame starts clean. */
static void drain_quiet(int fd) {
  uint8_t b;
  while (read_byte(fd, &b, 30) == 1) {
  }
}

int mcu_frame_read(int fd, mcu_frame *out, long timeout_ms, int check_crc) {
  uint8_t b, hdr[5];
  long end = now_ms() + timeout_ms;
  for (;;) { /* hunt for the start of a frame */
    long left = end - now_ms();
    if (left < 0) return 0;
    int r = read_byte(fd, &b, left);
    if (r <= 0) return 0;
    if (b == MCU_SOF) break;
  }
  for (int i = 0; i < 5; i++)
    if (read_byte(fd, &hdr[i], MCU_GAP_MS) != 1) {
      drain_quiet(fd);
      return -1;
    }
  out->type = hdr[0];
  out->seq = (uint16_t)(hdr[1] | hdr[2] << 8);
  out->len = (uint16_t)(hdr[3] | hdr[4] << 8);
  if (out->len > MCU_MAX_PAYLOAD) {
    drain_quiet(fd);
    return -1;
  }
  uint8_t tail[4];
  for (size_t i = 0; i < out->len; i++)
    if (read_byte(fd, &out->payload[i], MCU_GAP_MS) != 1) {
      drain_quiet(fd);
      return -1;
    }
  for (int i = 0; i < 4; i++)
    if (read_byte(fd, &tail[i], MCU_GAP_MS) != 1) {
      drain_quiet(fd);
      return -1;
    }
  out->payload[out->len] = 0;
  if (!check_crc) return 1;
  uLong crc = crc32(0L, hdr, 5);
  crc = crc32(crc, out->payload, out->len);
  if ((uint32_t)crc != mcu_get32(tail)) {
    drain_quiet(fd);
    return -1;
  }
  return 1;
}

int mcu_tty_open(const char *path, char *err, size_t errlen) {
  int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    errmsg(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  struct termios tio;
  if (tcgetattr(fd, &tio) == 0) {
    cfmakeraw(&tio);
    tcsetattr(fd, TCSANOW, &tio);
  }
  tcflush(fd, TCIOFLUSH);
  return fd;
}
