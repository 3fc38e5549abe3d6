#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include "digest.h"
#include "errmsg.h"

int digest_is_hex(const char *s, size_t n) {
  if (strlen(s) != n) return 0;
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F'))) return 0;
  return 1;
}

int digest_sha256_file(const char *path, char hex[65], char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    errmsg(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
    errmsg(err, errlen, "sha256: cannot initialise the digest");
    EVP_MD_CTX_free(ctx);
    close(fd);
    return -1;
  }
  unsigned char buf[65536];
  int rc = 0;
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      errmsg(err, errlen, "%s: read: %s", path, strerror(errno));
      rc = -1;
      break;
    }
    if (r == 0) break;
    EVP_DigestUpdate(ctx, buf, (size_t)r);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (rc == 0 && (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)) {
    errmsg(err, errlen, "sha256: digest failed");
    rc = -1;
  }
  EVP_MD_CTX_free(ctx);
  close(fd);
  if (rc == 0) {
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
      hex[2 * i] = digits[md[i] >> 4];
      hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = 0;
  }
  return rc;
}
