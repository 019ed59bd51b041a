/* EMV card crypto (nfc.h): option A master keys, common session keys, ISO/IEC 9797-1 MAC
 * algorithm 3, ARPC methods 1 and 2, key check values. All DES here is OpenSSL's DES-EDE in
 * ECB mode: two-key 3DES under K1 || K2, and single DES under K as DES-EDE under K || K. */
#include "mopay/nfc.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "mopay/assert.h"

#define BLOCK_BYTES 8

static EVP_CIPHER_CTX *des_new(void)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    MOPAY_ASSERT(ctx != NULL); /* out of memory (nfc.h) */
    return ctx;
}

/* (Re)keys `ctx` for DES-EDE ECB under `key`, without padding: callers pass whole blocks. */
static void des_key(EVP_CIPHER_CTX *ctx, const uint8_t key[MOPAY_EMV_KEY_BYTES], bool encrypt)
{
    int ok = EVP_CipherInit_ex(ctx, EVP_des_ede_ecb(), NULL, key, NULL, encrypt ? 1 : 0);
    MOPAY_ASSERT(ok == 1);
    ok = EVP_CIPHER_CTX_set_padding(ctx, 0);
    MOPAY_ASSERT(ok == 1);
}

/* Runs `len` bytes, whole blocks, through `ctx`; `out` may be `in`. */
static void des_run(EVP_CIPHER_CTX *ctx, const uint8_t *in, uint8_t *out, size_t len)
{
    MOPAY_ASSERT(len % BLOCK_BYTES == 0 && len <= 2 * BLOCK_BYTES);
    int out_len = 0;
    int ok = EVP_CipherUpdate(ctx, out, &out_len, in, (int)len);
    MOPAY_ASSERT(ok == 1 && out_len == (int)len);
}

static void tdes_encrypt(const uint8_t key[MOPAY_EMV_KEY_BYTES], const uint8_t *in, uint8_t *out, size_t len)
{
    EVP_CIPHER_CTX *ctx = des_new();
    des_key(ctx, key, true);
    des_run(ctx, in, out, len);
    EVP_CIPHER_CTX_free(ctx);
}

/* Sets the low bit of each byte so that it has an odd number of ones, as DES keys are stored. */
static void set_odd_parity(uint8_t *key, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t high = key[i] & 0xFE;
        key[i] = (uint8_t)(high | !(__builtin_popcount(high) & 1));
    }
}

static bool all_digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

void mopay_emv_icc_mk_derive_a(const uint8_t issuer_mk[MOPAY_EMV_KEY_BYTES], const char *pan, size_t pan_len,
                               const char psn[2], uint8_t icc_mk[MOPAY_EMV_KEY_BYTES])
{
    MOPAY_ASSERT(issuer_mk != NULL && icc_mk != NULL && pan != NULL && psn != NULL);
    MOPAY_ASSERT(pan_len >= 12 && pan_len <= 19 && all_digits(pan, pan_len) && all_digits(psn, 2));
    /* The rightmost 16 digits of PAN || PSN, left-padded with zeros, filled from the right. */
    char digits[16];
    memset(digits, '0', sizeof(digits));
    size_t total = pan_len + 2;
    for (size_t i = 0; i < total && i < sizeof(digits); i++) {
        size_t k = total - 1 - i;
        digits[sizeof(digits) - 1 - i] = k < pan_len ? pan[k] : psn[k - pan_len];
    }
    uint8_t y[2 * BLOCK_BYTES];
    for (size_t i = 0; i < BLOCK_BYTES; i++) {
        y[i] = (uint8_t)((digits[2 * i] - '0') << 4 | (digits[2 * i + 1] - '0'));
        y[BLOCK_BYTES + i] = (uint8_t)~y[i];
    }
    tdes_encrypt(issuer_mk, y, icc_mk, sizeof(y));
    set_odd_parity(icc_mk, MOPAY_EMV_KEY_BYTES);
}

void mopay_emv_session_key(const uint8_t icc_mk[MOPAY_EMV_KEY_BYTES], const uint8_t r[8],
                           uint8_t session_key[MOPAY_EMV_KEY_BYTES])
{
    MOPAY_ASSERT(icc_mk != NULL && r != NULL && session_key != NULL);
    uint8_t blocks[2 * BLOCK_BYTES];
    memcpy(blocks, r, BLOCK_BYTES);
    memcpy(blocks + BLOCK_BYTES, r, BLOCK_BYTES);
    blocks[2] = 0xF0;
    blocks[BLOCK_BYTES + 2] = 0x0F;
    tdes_encrypt(icc_mk, blocks, session_key, sizeof(blocks));
    set_odd_parity(session_key, MOPAY_EMV_KEY_BYTES);
}

/* The padded last block of `data`, if padding makes one: method 2 always adds one (80 00..),
 * method 1 only after a partial block or for no data at all. */
static bool mac_last_block(const uint8_t *data, size_t len, enum mopay_emv_padding padding,
                           uint8_t last[BLOCK_BYTES])
{
    size_t tail = len % BLOCK_BYTES;
    if (padding == MOPAY_EMV_PAD_ISO9797_1 && tail == 0 && len > 0)
        return false;
    memset(last, 0, BLOCK_BYTES);
    if (tail > 0)
        memcpy(last, data + len - tail, tail);
    if (padding == MOPAY_EMV_PAD_ISO9797_2)
        last[tail] = 0x80;
    return true;
}

static void xor_block(uint8_t *h, const uint8_t *block)
{
    for (size_t i = 0; i < BLOCK_BYTES; i++)
        h[i] ^= block[i];
}

void mopay_emv_mac(const uint8_t key[MOPAY_EMV_KEY_BYTES], const uint8_t *data, size_t len,
                   enum mopay_emv_padding padding, uint8_t mac[8])
{
    MOPAY_ASSERT(key != NULL && mac != NULL && (data != NULL || len == 0));
    MOPAY_ASSERT(padding == MOPAY_EMV_PAD_ISO9797_1 || padding == MOPAY_EMV_PAD_ISO9797_2);
    /* Single DES keys as DES-EDE keys: K1 || K1 and K2 || K2. */
    uint8_t k1[MOPAY_EMV_KEY_BYTES], k2[MOPAY_EMV_KEY_BYTES];
    memcpy(k1, key, BLOCK_BYTES);
    memcpy(k1 + BLOCK_BYTES, key, BLOCK_BYTES);
    memcpy(k2, key + BLOCK_BYTES, BLOCK_BYTES);
    memcpy(k2 + BLOCK_BYTES, key + BLOCK_BYTES, BLOCK_BYTES);

    EVP_CIPHER_CTX *ctx = des_new();
    des_key(ctx, k1, true);
    uint8_t h[BLOCK_BYTES] = {0};
    size_t whole = len - len % BLOCK_BYTES;
    for (size_t at = 0; at < whole; at += BLOCK_BYTES) {
        xor_block(h, data + at);
        des_run(ctx, h, h, BLOCK_BYTES);
    }
    uint8_t last[BLOCK_BYTES];
    if (mac_last_block(data, len, padding, last)) {
        xor_block(h, last);
        des_run(ctx, h, h, BLOCK_BYTES);
    }
    /* Output transformation 3: decrypt under K2, encrypt under K1. */
    des_key(ctx, k2, false);
    des_run(ctx, h, h, BLOCK_BYTES);
    des_key(ctx, k1, true);
    des_run(ctx, h, h, BLOCK_BYTES);
    EVP_CIPHER_CTX_free(ctx);
    memcpy(mac, h, BLOCK_BYTES);
    sodium_memzero(k1, sizeof(k1));
    sodium_memzero(k2, sizeof(k2));
}

void mopay_emv_arpc_1(const uint8_t session_key[MOPAY_EMV_KEY_BYTES], const uint8_t arqc[8], const uint8_t arc[2],
                      uint8_t arpc[8])
{
    MOPAY_ASSERT(session_key != NULL && arqc != NULL && arc != NULL && arpc != NULL);
    uint8_t block[BLOCK_BYTES];
    memcpy(block, arqc, BLOCK_BYTES);
    block[0] ^= arc[0];
    block[1] ^= arc[1];
    tdes_encrypt(session_key, block, arpc, BLOCK_BYTES);
}

void mopay_emv_arpc_2(const uint8_t session_key[MOPAY_EMV_KEY_BYTES], const uint8_t arqc[8], const uint8_t csu[4],
                      const uint8_t *proprietary, size_t proprietary_len, uint8_t arpc[4])
{
    MOPAY_ASSERT(session_key != NULL && arqc != NULL && csu != NULL && arpc != NULL);
    MOPAY_ASSERT(proprietary_len <= 8 && (proprietary != NULL || proprietary_len == 0));
    uint8_t data[8 + 4 + 8];
    memcpy(data, arqc, 8);
    memcpy(data + 8, csu, 4);
    if (proprietary_len > 0)
        memcpy(data + 12, proprietary, proprietary_len);
    uint8_t mac[8];
    mopay_emv_mac(session_key, data, 12 + proprietary_len, MOPAY_EMV_PAD_ISO9797_2, mac);
    memcpy(arpc, mac, 4);
}

void mopay_emv_key_check_value(const uint8_t key[MOPAY_EMV_KEY_BYTES], uint8_t kcv[3])
{
    MOPAY_ASSERT(key != NULL && kcv != NULL);
    static const uint8_t zeros[BLOCK_BYTES] = {0};
    uint8_t block[BLOCK_BYTES];
    tdes_encrypt(key, zeros, block, BLOCK_BYTES);
    memcpy(kcv, block, 3);
}
