#include "fwimage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static const unsigned char magic[8] = {'O', 'T', 'A', 'F', 'W', '1', 0, 0};

static void put32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* xorshift64*: the payload only has to differ between versions and sizes. */
static uint64_t next_rand(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 0x2545F4914F6CDD1DULL;
}

int fwimage_build(const char *path, const char *version, uint64_t size,
                  uint32_t flags, char *err, size_t errlen) {
  if (!path || !version || !*version) {
    snprintf(err, errlen, "fw build: a version is required");
    return -1;
  }
  if (strlen(version) > FWIMAGE_VERSION_MAX) {
    snprintf(err, errlen, "fw build: version '%s' is longer than %u bytes", version,
             FWIMAGE_VERSION_MAX);
    return -1;
  }
  if (size < FWIMAGE_HEADER_LEN || size - FWIMAGE_HEADER_LEN > UINT32_MAX) {
    snprintf(err, errlen, "fw build: size %llu is out of range (%u..%llu)",
             (unsigned long long)size, FWIMAGE_HEADER_LEN,
             (unsigned long long)UINT32_MAX + FWIMAGE_HEADER_LEN);
    return -1;
  }
  size_t tmplen = strlen(path) + 16;
  char *tmp = malloc(tmplen);
  if (!tmp) {
    snprintf(err, errlen, "fw build: out of memory");
    return -1;
  }
  snprintf(tmp, tmplen, "%s.tmp%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    snprintf(err, errlen, "fw build: %s: %s", tmp, strerror(errno));
    free(tmp);
    return -1;
  }
  uint32_t payload_len = (uint32_t)(size - FWIMAGE_HEADER_LEN);
  uint64_t seed = crc32(0L, (const Bytef *)version, (uInt)strlen(version)) ^ (size * 0x9E3779B97F4A7C15ULL);
  if (seed == 0) seed = 1;
  unsigned char hdr[FWIMAGE_HEADER_LEN] = {0};
  /* First pass computes the CRC, second writes; the generator is cheap. */
  uLong crc = crc32(0L, Z_NULL, 0);
  unsigned char buf[65536];
  uint64_t s = seed;
  for (uint32_t done = 0; done < payload_len;) {
    uint32_t n = payload_len - done < sizeof buf ? payload_len - done : (uint32_t)sizeof buf;
    for (uint32_t i = 0; i < n; i += 8) {
      uint64_t r = next_rand(&s);
      for (uint32_t k = 0; k < 8 && i + k < n; k++) buf[i + k] = (unsigned char)(r >> (8 * k));
    }
    crc = crc32(crc, buf, n);
    done += n;
  }
  memcpy(hdr, magic, sizeof magic);
  put32(hdr + 8, FWIMAGE_HEADER_LEN);
  put32(hdr + 12, flags);
  put32(hdr + 16, payload_len);
  put32(hdr + 20, (uint32_t)crc);
  memcpy(hdr + 24, version, strlen(version));
  int ok = fwrite(hdr, 1, sizeof hdr, f) == sizeof hdr;
  s = seed;
  for (uint32_t done = 0; ok && done < payload_len;) {
    uint32_t n = payload_len - done < sizeof buf ? payload_len - done : (uint32_t)sizeof buf;
    for (uint32_t i = 0; i < n; i += 8) {
      uint64_t r = next_rand(&s);
      for (uint32_t k = 0; k < 8 && i + k < n; k++) buf[i + k] = (unsigned char)(r >> (8 * k));
    }
    ok = fwrite(buf, 1, n, f) == n;
    done += n;
  }
  if (fclose(f) != 0) ok = 0;
  if (!ok || rename(tmp, path) != 0) {
    snprintf(err, errlen, "fw build: writing %s: %s", path, strerror(errno));
    unlink(tmp);
    free(tmp);
    return -1;
  }
  free(tmp);
  return 0;
}

int fwimage_check(const char *path, fwimage_info *out, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  unsigned char hdr[FWIMAGE_HEADER_LEN];
  int rc = -1;
  if (fread(hdr, 1, sizeof hdr, f) != sizeof hdr) {
    snprintf(err, errlen, "%s: shorter than an image header", path);
    goto out;
  }
  if (memcmp(hdr, magic, sizeof magic) != 0 || get32(hdr + 8) != FWIMAGE_HEADER_LEN) {
    snprintf(err, errlen, "%s: not an otadev image (bad magic)", path);
    goto out;
  }
  memset(out, 0, sizeof *out);
  memcpy(out->version, hdr + 24, FWIMAGE_VERSION_MAX);
  out->version[FWIMAGE_VERSION_MAX] = 0;
  out->flags = get32(hdr + 12);
  out->payload_len = get32(hdr + 16);
  out->payload_crc = get32(hdr + 20);
  uLong crc = crc32(0L, Z_NULL, 0);
  unsigned char buf[65536];
  uint64_t total = 0;
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    crc = crc32(crc, buf, (uInt)n);
    total += n;
  }
  if (total != out->payload_len) {
    snprintf(err, errlen, "%s: payload is %llu bytes, header says %u", path,
             (unsigned long long)total, out->payload_len);
    goto out;
  }
  if ((uint32_t)crc != out->payload_crc) {
    snprintf(err, errlen, "%s: payload CRC32 %08x, header says %08x", path, (unsigned)crc,
             out->payload_crc);
    goto out;
  }
  rc = 0;
out:
  fclose(f);
  return rc;
}

uint32_t fwimage_flag_by_name(const char *name) {
  if (!name) return 0;
  if (strcmp(name, "fail-boot") == 0 || strcmp(name, "fail_boot") == 0) return FWIMAGE_FAIL_BOOT;
  if (strcmp(name, "fail-burn") == 0 || strcmp(name, "fail_burn") == 0) return FWIMAGE_FAIL_BURN;
  return 0;
}
