/* digest: MD5 and SHA-256 of a file (libcrypto), for the checks a device makes
 * on a downloaded image: MD5 (Tencent, Aliyun's "Md5", quecthing) and SHA-256
 * (Aliyun's signMethod "SHA256", HaaS's hash_type "sha256"). */
#ifndef OTAHIL_EMU_DIGEST_H
#define OTAHIL_EMU_DIGEST_H

#include <stddef.h>

/* Computes the MD5 of `path` as 32 lowercase hex digits into `hex`.
 * Returns 0, or -1 with `err` naming the file. */
int digest_md5_file(const char *path, char hex[33], char *err, size_t errlen);

/* Computes the SHA-256 of `path` as 64 lowercase hex digits into `hex`.
 * Returns 0, or -1 with `err` naming the file. */
int digest_sha256_file(const char *path, char hex[65], char *err, size_t errlen);

/* 1 if `s` is exactly `n` hex digits (either case), else 0. */
int digest_is_hex(const char *s, size_t n);

/* Lowercases the letters A-F of `hex` in place: digests here are compared as
 * lowercase, the cloud may send either case. */
void digest_hex_lower(char *hex);

#endif
