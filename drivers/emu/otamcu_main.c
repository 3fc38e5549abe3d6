/* otamcu: the external MCU behind an emulated QuecThing module (SOTA).
 *
 *   otamcu --tty PATH --state DIR [--version 1.0.0] [--no-crc]
 *
 * It answers the module's frames on its UART (mcu_proto.h), receives an image
 * into DIR/incoming.bin, checks it (the frame CRCs, then the whole image's
 * CRC32 and its fwimage header) and only then makes it the running image
 * (DIR/image.bin + DIR/version, replaced atomically): a power cut during the
 * transfer leaves the old image running. Its console lines start with
 * "[otamcu] "; at every boot it prints the version and the CRC32 of the image
 * it runs, which a test rig reads like an MCU's debug UART.
 * --no-crc is the no-mcu-crc defect: no CRC is checked at all.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "fsutil.h"
#include "fwimage.h"
#include "mcu_proto.h"

typedef struct mcu {
  int fd, check_crc;
  char dir[3072];
  char version[FWIMAGE_VERSION_MAX + 1];
  uint32_t crc; /* of the running image, 0 if none */
  /* the transfer in progress */
  FILE *in;
  uint32_t size, want_crc, written;
  char want_version[FWIMAGE_VERSION_MAX + 1];
} mcu;

static void mlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mlog(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  flockfile(stdout);
  fputs("[otamcu] ", stdout);
  vfprintf(stdout, fmt, ap);
  fputc('\n', stdout);
  fflush(stdout);
  funlockfile(stdout);
  va_end(ap);
}

static void path(const mcu *m, const char *name, char *out, size_t len) {
  if (fs_join(out, len, m->dir, name) != 0) out[0] = 0;
}

static int file_crc(const char *p, uint32_t *crc, uint32_t *size) {
  FILE *f = fopen(p, "rb");
  if (!f) return -1;
  uLong c = crc32(0L, Z_NULL, 0);
  uint32_t n = 0;
  unsigned char buf[8192];
  size_t k;
  while ((k = fread(buf, 1, sizeof buf, f)) > 0) {
    c = crc32(c, buf, (uInt)k);
    n += (uint32_t)k;
  }
  fclose(f);
  *crc = (uint32_t)c;
  if (size) *size = n;
  return 0;
}

static void boot(mcu *m, const char *factory) {
  char p[4096], err[256];
  size_t len = 0;
  int missing = 0;
  path(m, "version", p, sizeof p);
  char *v = fs_read_all(p, 64, &len, &missing, err, sizeof err);
  if (!v) {
    snprintf(m->version, sizeof m->version, "%s", factory);
    if (fs_write_atomic(p, m->version, strlen(m->version), NULL, NULL, err, sizeof err) != 0)
      mlog("flash: %s", err);
  } else {
    snprintf(m->version, sizeof m->version, "%.*s", (int)strcspn(v, "\n"), v);
    free(v);
  }
  path(m, "image.bin", p, sizeof p);
  m->crc = 0;
  file_crc(p, &m->crc, NULL);
  mlog("boot version=%s crc32=%08x", m->version, m->crc);
}

static void reply(mcu *m, uint8_t type, uint16_t seq, const char *text) {
  mcu_frame f = {.type = type, .seq = seq};
  if (text) {
    size_t n = strlen(text);
    if (n > MCU_MAX_PAYLOAD) n = MCU_MAX_PAYLOAD;
    memcpy(f.payload, text, n);
    f.len = (uint16_t)n;
  }
  if (mcu_frame_send(m->fd, &f) != 0) mlog("uart write failed: %s", strerror(errno));
}

static void nak(mcu *m, uint16_t seq, const char *why) {
  mlog("NAK seq=%u: %s", seq, why);
  reply(m, MCU_T_NAK, seq, why);
}

static void on_start(mcu *m, const mcu_frame *f) {
  if (f->len < 9 || (unsigned)f->len - 8u > FWIMAGE_VERSION_MAX) return nak(m, f->seq, "bad start frame");
  char p[4096];
  path(m, "incoming.bin", p, sizeof p);
  if (m->in) fclose(m->in);
  m->in = fopen(p, "wb");
  if (!m->in) return nak(m, f->seq, "cannot open incoming.bin");
  m->size = mcu_get32(f->payload);
  m->want_crc = mcu_get32(f->payload + 4);
  snprintf(m->want_version, sizeof m->want_version, "%.*s", f->len - 8, (const char *)f->payload + 8);
  m->written = 0;
  mlog("receiving version=%s size=%u crc32=%08x", m->want_version, m->size, m->want_crc);
  reply(m, MCU_T_ACK, f->seq, NULL);
}

static void on_data(mcu *m, const mcu_frame *f) {
  if (!m->in || f->len < 4) return nak(m, f->seq, "data without a transfer");
  uint32_t off = mcu_get32(f->payload), n = f->len - 4u;
  if (off < m->written) return reply(m, MCU_T_ACK, f->seq, NULL); /* a resend after a lost ACK */
  if (off > m->written || off + n > m->size) return nak(m, f->seq, "offset out of order");
  if (fwrite(f->payload + 4, 1, n, m->in) != n) return nak(m, f->seq, "flash write failed");
  m->written += n;
  reply(m, MCU_T_ACK, f->seq, NULL);
}

static void on_end(mcu *m, const mcu_frame *f) {
  char in[4096], img[4096], vp[4096], err[256], why[128];
  if (!m->in) {
    /* our ACK of the end was lost and the module asks again */
    if (m->want_version[0] && strcmp(m->want_version, m->version) == 0) return reply(m, MCU_T_ACK, f->seq, NULL);
    return nak(m, f->seq, "end without a transfer");
  }
  fclose(m->in);
  m->in = NULL;
  path(m, "incoming.bin", in, sizeof in);
  path(m, "image.bin", img, sizeof img);
  path(m, "version", vp, sizeof vp);
  uint32_t crc = 0, size = 0;
  if (file_crc(in, &crc, &size) != 0 || size != m->size) {
    snprintf(why, sizeof why, "size %u, expected %u", size, m->size);
    return nak(m, f->seq, why);
  }
  char version[FWIMAGE_VERSION_MAX + 1] = "";
  if (m->check_crc) {
    if (crc != m->want_crc) {
      snprintf(why, sizeof why, "image crc32 %08x, expected %08x", crc, m->want_crc);
      return nak(m, f->seq, why);
    }
    fwimage_info info;
    if (fwimage_check(in, &info, err, sizeof err) != 0) return nak(m, f->seq, err);
    snprintf(version, sizeof version, "%s", info.version);
  } else {
    /* the defect: trusts the header without checking anything */
    FILE *h = fopen(in, "rb");
    unsigned char hdr[FWIMAGE_HEADER_LEN] = {0};
    if (h) {
      if (fread(hdr, 1, sizeof hdr, h) != sizeof hdr) hdr[24] = 0;
      fclose(h);
    }
    snprintf(version, sizeof version, "%.32s", (const char *)hdr + 24);
  }
  if (strcmp(version, m->want_version) != 0) {
    snprintf(why, sizeof why, "image holds version %.32s, expected %.32s", version, m->want_version);
    return nak(m, f->seq, why);
  }
  if (rename(in, img) != 0 ||
      fs_write_atomic(vp, version, strlen(version), NULL, NULL, err, sizeof err) != 0)
    return nak(m, f->seq, "flash: cannot install the image");
  mlog("installed version=%s, rebooting", version);
  reply(m, MCU_T_ACK, f->seq, NULL);
  boot(m, version);
}

static void serve(mcu *m) {
  for (;;) {
    mcu_frame f;
    int r = mcu_frame_read(m->fd, &f, 1000, m->check_crc);
    if (r == 0) continue;
    if (r < 0) {
      nak(m, 0xFFFF, "damaged frame");
      continue;
    }
    switch (f.type) {
    case MCU_T_VERSION_Q: {
      char text[96];
      snprintf(text, sizeof text, "%s %08x", m->version, m->crc);
      reply(m, MCU_T_VERSION, f.seq, text);
      break;
    }
    case MCU_T_START: on_start(m, &f); break;
    case MCU_T_DATA: on_data(m, &f); break;
    case MCU_T_END: on_end(m, &f); break;
    default: nak(m, f.seq, "unknown frame type");
    }
  }
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"tty", required_argument, NULL, 't'},
                                       {"state", required_argument, NULL, 's'},
                                       {"version", required_argument, NULL, 'v'},
                                       {"no-crc", no_argument, NULL, 'n'},
                                       {NULL, 0, NULL, 0}};
  const char *tty = NULL, *state = NULL, *factory = "1.0.0";
  int check_crc = 1, c;
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 't': tty = optarg; break;
    case 's': state = optarg; break;
    case 'v': factory = optarg; break;
    case 'n': check_crc = 0; break;
    default:
      fprintf(stderr, "usage: otamcu --tty PATH --state DIR [--version V] [--no-crc]\n");
      return 2;
    }
  }
  if (!tty || !state || strlen(state) > 3000 || !*factory || strlen(factory) > FWIMAGE_VERSION_MAX) {
    fprintf(stderr, "usage: otamcu --tty PATH --state DIR [--version V] [--no-crc]\n");
    return 2;
  }
  mcu m;
  memset(&m, 0, sizeof m);
  char err[512];
  snprintf(m.dir, sizeof m.dir, "%s", state);
  if (fs_mkdir(m.dir, err, sizeof err) != 0) {
    fprintf(stderr, "otamcu: %s\n", err);
    return 3;
  }
  m.check_crc = check_crc;
  m.fd = mcu_tty_open(tty, err, sizeof err);
  if (m.fd < 0) {
    fprintf(stderr, "otamcu: %s\n", err);
    return 3;
  }
  if (!check_crc) mlog("defect enabled: no-mcu-crc");
  boot(&m, factory);
  serve(&m);
  return 0;
}
