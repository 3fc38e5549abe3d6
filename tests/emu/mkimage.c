/* mkimage: builds an otadev firmware image for the tests (until the harness
 * has `otahil fw build`).
 *   mkimage PATH VERSION SIZE [fail-boot|fail-burn]...
 * Prints the MD5 of the image on stdout. Exit 0, or 2 on bad arguments. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "digest.h"
#include "fwimage.h"

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: mkimage PATH VERSION SIZE [fail-boot|fail-burn]...\n");
    return 2;
  }
  char *end = NULL;
  errno = 0;
  unsigned long long size = strtoull(argv[3], &end, 10);
  if (errno || end == argv[3] || *end) {
    fprintf(stderr, "mkimage: SIZE '%s' is not a number\n", argv[3]);
    return 2;
  }
  uint32_t flags = 0;
  for (int i = 4; i < argc; i++) {
    uint32_t f = fwimage_flag_by_name(argv[i]);
    if (!f) {
      fprintf(stderr, "mkimage: unknown flag '%s'\n", argv[i]);
      return 2;
    }
    flags |= f;
  }
  char err[512], hex[33];
  if (fwimage_build(argv[1], argv[2], size, flags, err, sizeof err) != 0 ||
      digest_md5_file(argv[1], hex, err, sizeof err) != 0) {
    fprintf(stderr, "mkimage: %s\n", err);
    return 1;
  }
  printf("%s\n", hex);
  return 0;
}
