/* Lua module `digest`: md5, sha256 and crc32 of strings and files (libcrypto, zlib).
 * digest.md5(s) / digest.sha256(s) -> lowercase hex; digest.crc32(s) -> integer;
 * digest.file(path) -> {size=, md5=, sha256=, crc32=} | nil, "why";
 * digest.hmac("sha1" | "sha256" | "md5", key, s) -> lowercase hex (the platforms' login signatures:
 *   Aliyun's signmethod may be hmacmd5 too);
 * digest.base64_decode(s) -> bytes | nil, "why" (device secrets are base64). */
#include <errno.h>
#include <lauxlib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "api.h"

static void hex(const unsigned char *d, unsigned n, char *out) {
  static const char x[] = "0123456789abcdef";
  for (unsigned i = 0; i < n; i++) {
    out[2 * i] = x[d[i] >> 4];
    out[2 * i + 1] = x[d[i] & 15];
  }
  out[2 * n] = 0;
}

static int digest_str(lua_State *L, const EVP_MD *md) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  if (!EVP_Digest(s, len, d, &n, md, NULL)) return luaL_error(L, "digest failed");
  char out[2 * EVP_MAX_MD_SIZE + 1];
  hex(d, n, out);
  lua_pushstring(L, out);
  return 1;
}

static int l_md5(lua_State *L) { return digest_str(L, EVP_md5()); }
static int l_sha256(lua_State *L) { return digest_str(L, EVP_sha256()); }

static int l_hmac(lua_State *L) {
  static const char *const algs[] = {"sha1", "sha256", "md5", NULL};
  int alg = luaL_checkoption(L, 1, NULL, algs);
  const EVP_MD *md = alg == 0 ? EVP_sha1() : alg == 1 ? EVP_sha256() : EVP_md5();
  size_t klen, len;
  const char *key = luaL_checklstring(L, 2, &klen);
  const char *s = luaL_checklstring(L, 3, &len);
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  if (!HMAC(md, key, (int)klen, (const unsigned char *)s, len, d, &n))
    return luaL_error(L, "hmac failed");
  char out[2 * EVP_MAX_MD_SIZE + 1];
  hex(d, n, out);
  lua_pushstring(L, out);
  return 1;
}

static int l_base64_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  luaL_Buffer b;
  unsigned char *out = (unsigned char *)luaL_buffinitsize(L, &b, len / 4 * 3 + 3);
  int n = len % 4 == 0 && len < 1u << 30 ? EVP_DecodeBlock(out, (const unsigned char *)s, (int)len) : -1;
  if (n < 0) {
    lua_pushnil(L);
    lua_pushstring(L, "not base64 (its length must be a multiple of 4, its characters A-Z a-z 0-9 + /)");
    return 2;
  }
  /* EVP_DecodeBlock counts the padding as zero bytes */
  for (size_t i = len; i > 0 && s[i - 1] == '=' && n > 0; i--) n--;
  luaL_pushresultsize(&b, (size_t)n);
  return 1;
}

static int l_crc32(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  lua_pushinteger(L, (lua_Integer)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)s, (uInt)len));
  return 1;
}

int api_digest_file(const char *path, api_file_digest *out, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  EVP_MD_CTX *m5 = EVP_MD_CTX_new(), *s2 = EVP_MD_CTX_new();
  EVP_DigestInit_ex(m5, EVP_md5(), NULL);
  EVP_DigestInit_ex(s2, EVP_sha256(), NULL);
  uLong crc = crc32(0L, Z_NULL, 0);
  unsigned char buf[1 << 16];
  size_t n;
  out->size = 0;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    EVP_DigestUpdate(m5, buf, n);
    EVP_DigestUpdate(s2, buf, n);
    crc = crc32(crc, buf, (uInt)n);
    out->size += n;
  }
  int bad = ferror(f);
  fclose(f);
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned dn;
  EVP_DigestFinal_ex(m5, d, &dn);
  hex(d, dn, out->md5);
  EVP_DigestFinal_ex(s2, d, &dn);
  hex(d, dn, out->sha256);
  EVP_MD_CTX_free(m5);
  EVP_MD_CTX_free(s2);
  out->crc32 = (uint32_t)crc;
  if (bad) {
    snprintf(err, errlen, "%s: read error", path);
    return -1;
  }
  return 0;
}

static int l_file(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  api_file_digest d;
  char err[512];
  if (api_file_allowed(L, path, err, sizeof err) != 0 ||
      api_digest_file(path, &d, err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)d.size);
  lua_setfield(L, -2, "size");
  lua_pushstring(L, d.md5);
  lua_setfield(L, -2, "md5");
  lua_pushstring(L, d.sha256);
  lua_setfield(L, -2, "sha256");
  lua_pushinteger(L, d.crc32);
  lua_setfield(L, -2, "crc32");
  return 1;
}

int api_open_digest(lua_State *L) {
  static const luaL_Reg fns[] = {{"md5", l_md5},       {"sha256", l_sha256}, {"crc32", l_crc32},
                                 {"file", l_file},     {"hmac", l_hmac},     {"base64_decode", l_base64_decode},
                                 {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
