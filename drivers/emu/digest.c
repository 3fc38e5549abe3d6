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

void digest_hex_lower(char *hex) {
  for (; *hex; hex++)
    if (*hex >= 'A' && *hex <= 'F') *hex = (char)(*hex - 'A' + 'a');
}

/* Hashes the file with `md` (whose digest is `size` bytes) into 2 * size hex
 * digits and a NUL. `name` is the algorithm, for messages. */
static int digest_file(const char *path, const EVP_MD *md, const char *name, unsigned size, char *hex,
                       char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    errmsg(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx || EVP_DigestInit_ex(ctx, md, NULL) != 1) {
    errmsg(err, errlen, "%s: cannot initialise the digest", name);
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
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int outlen = 0;
  if (rc == 0 && (EVP_DigestFinal_ex(ctx, out, &outlen) != 1 || outlen != size)) {
    errmsg(err, errlen, "%s: digest failed", name);
    rc = -1;
  }
  EVP_MD_CTX_free(ctx);
  close(fd);
  if (rc == 0) {
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < size; i++) {
      hex[2 * i] = digits[out[i] >> 4];
      hex[2 * i + 1] = digits[out[i] & 15];
    }
    hex[2 * size] = 0;
  }
  return rc;
}

int digest_md5_file(const char *path, char hex[33], char *err, size_t errlen) {
  return digest_file(path, EVP_md5(), "md5", 16, hex, err, errlen);
}

int digest_sha256_file(const char *path, char hex[65], char *err, size_t errlen) {
  return digest_file(path, EVP_sha256(), "sha256", 32, hex, err, errlen);
}
