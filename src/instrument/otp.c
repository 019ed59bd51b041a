/* HOTP and TOTP (otp.h), and the HMAC and truncation the rest of src/instrument builds on. */
#include "mopay/otp.h"

#include <limits.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"

/* 10^0 .. 10^MOPAY_OTP_DIGITS_MAX; 10^10 needs 64 bits. */
static const uint64_t POW10[MOPAY_OTP_DIGITS_MAX + 1] = {
    1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u, 100000000u, 1000000000u, 10000000000u,
};

static const EVP_MD *hash_md(enum mopay_otp_hash hash)
{
    switch (hash) {
    case MOPAY_OTP_SHA1:
        return EVP_sha1();
    case MOPAY_OTP_SHA256:
        return EVP_sha256();
    case MOPAY_OTP_SHA512:
        return EVP_sha512();
    }
    MOPAY_UNREACHABLE();
}

size_t instrument_hmac(enum mopay_otp_hash hash, const uint8_t *key, size_t key_len, const uint8_t *msg,
                       size_t msg_len, uint8_t out[INSTRUMENT_HMAC_BYTES_MAX])
{
    MOPAY_ASSERT(key != NULL && key_len > 0 && key_len <= INT_MAX);
    MOPAY_ASSERT(msg != NULL && out != NULL);
    unsigned int len = 0;
    /* NULL only when OpenSSL is out of memory or has no default provider (otp.h). */
    const unsigned char *mac = HMAC(hash_md(hash), key, (int)key_len, msg, msg_len, out, &len);
    MOPAY_ASSERT(mac != NULL);
    MOPAY_ASSERT(len >= 20 && len <= INSTRUMENT_HMAC_BYTES_MAX);
    return len;
}

void instrument_otp_digits(const uint8_t *mac, size_t mac_len, int digits, char *out)
{
    MOPAY_ASSERT(mac_len >= 20 && mac_len <= INSTRUMENT_HMAC_BYTES_MAX);
    MOPAY_ASSERT(digits >= MOPAY_OTP_DIGITS_MIN && digits <= MOPAY_OTP_DIGITS_MAX);
    /* RFC 4226 5.3 (and RFC 6238 for the longer MACs): the low nibble of the last byte picks
     * 4 bytes; at most 15 + 4 <= 20 bytes are read. The top bit is dropped so that signed and
     * unsigned implementations agree. */
    size_t offset = mac[mac_len - 1] & 0x0f;
    uint32_t binary = (uint32_t)(mac[offset] & 0x7f) << 24 | (uint32_t)mac[offset + 1] << 16 |
                      (uint32_t)mac[offset + 2] << 8 | mac[offset + 3];
    uint64_t value = binary % POW10[digits];
    for (int i = digits - 1; i >= 0; i--) {
        out[i] = (char)('0' + value % 10);
        value /= 10;
    }
    out[digits] = '\0';
}

void mopay_otp_hotp(enum mopay_otp_hash hash, const uint8_t *key, size_t key_len, uint64_t counter,
                    int digits, char out[MOPAY_OTP_BYTES])
{
    MOPAY_ASSERT(digits >= MOPAY_OTP_DIGITS_MIN && digits <= MOPAY_OTP_DIGITS_MAX);
    uint8_t msg[8];
    instrument_put_be(msg, counter, sizeof(msg));
    uint8_t mac[INSTRUMENT_HMAC_BYTES_MAX];
    size_t mac_len = instrument_hmac(hash, key, key_len, msg, sizeof(msg), mac);
    instrument_otp_digits(mac, mac_len, digits, out);
    sodium_memzero(mac, sizeof(mac));
}

void mopay_otp_totp(enum mopay_otp_hash hash, const uint8_t *key, size_t key_len, int64_t unix_time,
                    int64_t step_s, int digits, char out[MOPAY_OTP_BYTES])
{
    MOPAY_ASSERT(unix_time >= 0 && step_s > 0);
    mopay_otp_hotp(hash, key, key_len, (uint64_t)(unix_time / step_s), digits, out);
}
