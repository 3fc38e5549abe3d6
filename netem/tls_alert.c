/* tls_alert: a fatal TLS 1.3 alert record, protected as OpenSSL would (see tls_conn.h).
 *
 * OpenSSL has no call that sends an alert of the caller's choice on an established
 * session, so the record is built here (RFC 8446): the server's application traffic
 * secret (OpenSSL's key log gives SERVER_TRAFFIC_SECRET_0), moved on by each KeyUpdate the
 * server sent ("traffic upd"), gives the key and IV ("key", "iv"); the record's sequence
 * number is 0 because tls_conn__alert() makes the server send a KeyUpdate just before. */
#include "tls_conn.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>

#define ERR(...) \
  do { if (why && whylen) snprintf(why, whylen, __VA_ARGS__); } while (0)

/* HKDF-Expand-Label(secret, label, "", n) for n <= the hash's size: one HMAC block. */
static int expand_label(const EVP_MD *md, const uint8_t *secret, size_t slen, const char *label, uint8_t *out,
                        size_t n) {
  uint8_t info[2 + 1 + 6 + 32 + 1 + 1], mac[EVP_MAX_MD_SIZE];
  size_t ll = strlen(label), i = 0;
  unsigned maclen = 0;
  if (ll > 32 || n > (size_t)EVP_MD_get_size(md)) return -1;
  info[i++] = (uint8_t)(n >> 8);
  info[i++] = (uint8_t)n;
  info[i++] = (uint8_t)(6 + ll);
  memcpy(info + i, "tls13 ", 6);
  memcpy(info + i + 6, label, ll);
  i += 6 + ll;
  info[i++] = 0; /* empty context */
  info[i++] = 1; /* HKDF-Expand's block counter */
  if (!HMAC(md, secret, (int)slen, info, i, mac, &maclen) || maclen < n) return -1;
  memcpy(out, mac, n);
  return 0;
}

static const EVP_CIPHER *aead_of(uint16_t suite) {
  switch (suite) {
  case 0x1301: return EVP_aes_128_gcm();
  case 0x1302: return EVP_aes_256_gcm();
  case 0x1303: return EVP_chacha20_poly1305();
  default: return NULL; /* the CCM suites (off by default) */
  }
}

/* AEAD-seals the 3-byte inner plaintext after the 5-byte header in rec (RFC 8446 5.2). */
static int seal(const EVP_CIPHER *aead, const uint8_t *key, const uint8_t *nonce, uint8_t *rec) {
  EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
  uint8_t inner[3] = {2, rec[5], 21}; /* fatal, description, content type alert */
  int ok = x && EVP_EncryptInit_ex(x, aead, NULL, NULL, NULL) == 1 &&
           EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) == 1 &&
           EVP_EncryptInit_ex(x, NULL, NULL, key, nonce) == 1;
  int outl = 0, fin = 0;
  ok = ok && EVP_EncryptUpdate(x, NULL, &outl, rec, 5) == 1 && EVP_EncryptUpdate(x, rec + 5, &outl, inner, 3) == 1 &&
       outl == 3 && EVP_EncryptFinal_ex(x, rec + 8, &fin) == 1 && fin == 0 &&
       EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, 16, rec + 8) == 1;
  EVP_CIPHER_CTX_free(x);
  return ok ? 0 : -1;
}

int tls_alert__record(const SSL *ssl, const uint8_t *secret0, size_t slen, unsigned updates, int code,
                      uint8_t rec[TLS_ALERT_RECORD_LEN], char *why, size_t whylen) {
  const SSL_CIPHER *cs = SSL_get_current_cipher(ssl);
  const EVP_CIPHER *aead = cs ? aead_of(SSL_CIPHER_get_protocol_id(cs)) : NULL;
  const EVP_MD *md = cs ? SSL_CIPHER_get_handshake_digest(cs) : NULL;
  if (SSL_version(ssl) != TLS1_3_VERSION || !aead || !md || slen == 0) {
    ERR("%s %s: only TLS 1.3 with AES-GCM or ChaCha20-Poly1305", SSL_get_version(ssl), cs ? SSL_CIPHER_get_name(cs) : "?");
    return -1;
  }
  uint8_t secret[EVP_MAX_MD_SIZE], key[32], iv[12];
  size_t keylen = (size_t)EVP_CIPHER_get_key_length(aead);
  memcpy(secret, secret0, slen);
  for (unsigned i = 0; i < updates; i++)
    if (expand_label(md, secret, slen, "traffic upd", secret, slen)) goto bad;
  if (expand_label(md, secret, slen, "key", key, keylen) || expand_label(md, secret, slen, "iv", iv, sizeof iv))
    goto bad;
  /* sequence number 0: the nonce is the IV itself */
  const uint8_t head[6] = {23, 3, 3, 0, 3 + 16, (uint8_t)code};
  memcpy(rec, head, sizeof head);
  if (seal(aead, key, iv, rec)) goto bad;
  OPENSSL_cleanse(secret, sizeof secret);
  OPENSSL_cleanse(key, sizeof key);
  return 0;
bad:
  OPENSSL_cleanse(secret, sizeof secret);
  OPENSSL_cleanse(key, sizeof key);
  ERR("cannot derive the record protection");
  return -1;
}
