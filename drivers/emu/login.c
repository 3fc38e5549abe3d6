/* login: signed MQTT credentials per platform (login.h). */
#include "login.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"

/* hex(HMAC-SHA256(key, msg)) into hex[65]; `bad` changes its first digit. */
static int hmac_hex(const unsigned char *key, size_t klen, const char *msg, int bad, char hex[65]) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), mac, &n) || n != 32) return -1;
  for (unsigned i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02x", mac[i]);
  if (bad) hex[0] = hex[0] == '0' ? '1' : '0';
  return 0;
}

/* Base64 (with padding) into out; returns the length, or -1. */
static int b64_decode(const char *s, unsigned char *out, size_t cap) {
  size_t n = strlen(s);
  if (n == 0 || n % 4 || n / 4 * 3 > cap) return -1;
  int len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
  if (len < 0) return -1;
  if (s[n - 1] == '=') len--;
  if (s[n - 2] == '=') len--;
  return len;
}

static int sign_qcloud(const char *pk, const char *dn, const char *secret, time_t now, long lifetime, int bad,
                       login_creds *o, char *err, size_t errlen) {
  unsigned char key[256];
  int klen = b64_decode(secret, key, sizeof key);
  if (klen <= 0) {
    errmsg(err, errlen, "login: --secret is not base64 (Tencent's device secret is)");
    return -1;
  }
  static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  char connid[6];
  unsigned seed = (unsigned)now ^ (unsigned)clock();
  for (int i = 0; i < 5; i++) connid[i] = alnum[rand_r(&seed) % (sizeof alnum - 1)];
  connid[5] = 0;
  snprintf(o->client_id, sizeof o->client_id, "%s%s", pk, dn);
  /* valid for `lifetime` seconds from now: IoT Hub refuses an expired signature */
  snprintf(o->username, sizeof o->username, "%s%s;21010406;%s;%lld", pk, dn, connid, (long long)now + lifetime);
  char hex[65];
  if (hmac_hex(key, (size_t)klen, o->username, bad, hex) != 0) return -1;
  snprintf(o->password, sizeof o->password, "%s;hmacsha256", hex);
  return 0;
}

static int sign_aliyun(const char *pk, const char *dn, const char *secret, time_t now, int bad, login_creds *o) {
  long long ts = (long long)now * 1000;
  char content[600];
  snprintf(content, sizeof content, "clientId%s.%sdeviceName%sproductKey%stimestamp%lld", pk, dn, dn, pk, ts);
  snprintf(o->client_id, sizeof o->client_id, "%s.%s|securemode=3,signmethod=hmacsha256,timestamp=%lld|", pk, dn, ts);
  snprintf(o->username, sizeof o->username, "%s&%s", dn, pk);
  return hmac_hex((const unsigned char *)secret, strlen(secret), content, bad, o->password);
}

int login_sign(const char *dialect, const char *product, const char *device, const char *secret, time_t now,
               long lifetime, int bad, login_creds *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!strcmp(dialect, "qcloud")) return sign_qcloud(product, device, secret, now, lifetime, bad, out, err, errlen);
  if (!strcmp(dialect, "aliyun") || !strcmp(dialect, "haas")) {
    if (sign_aliyun(product, device, secret, now, bad, out) == 0) return 0;
    errmsg(err, errlen, "login: HMAC-SHA256 failed");
    return -1;
  }
  errmsg(err, errlen, "login: --secret: dialect %s has no signed login here", dialect);
  return -1;
}
