#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "mopay/assert.h"
#include "mopay/keys.h"
#include "mopay/text.h"

void mopay_text_copy(char *dst, size_t cap, const char *src)
{
    size_t len = strlen(src);
    MOPAY_ASSERT(len < cap);
    memcpy(dst, src, len + 1);
}

bool mopay_text_load(const char *src, char *dst, size_t cap)
{
    if (src == NULL || strlen(src) >= cap)
        return false;
    memcpy(dst, src, strlen(src) + 1);
    return true;
}

void mopay_seal_ad(char out[MOPAY_SEAL_AD_BYTES], const char *kind, const char *id, const char *field)
{
    int n = snprintf(out, MOPAY_SEAL_AD_BYTES, "%s/%s/%s", kind, id, field);
    MOPAY_ASSERT(n > 0 && n < MOPAY_SEAL_AD_BYTES);
}

void mopay_seal_b64(const uint8_t key[32], const char *ad, const void *plain, size_t len,
                    char out[MOPAY_SEALED_B64_BYTES])
{
    uint8_t sealed[MOPAY_SEALED_PLAIN_MAX + MOPAY_SEAL_AD_OVERHEAD];
    MOPAY_ASSERT(len <= MOPAY_SEALED_PLAIN_MAX);
    _Static_assert(sodium_base64_ENCODED_LEN(sizeof(sealed), sodium_base64_VARIANT_ORIGINAL) <= MOPAY_SEALED_B64_BYTES,
                   "room for the longest sealed secret");
    mopay_keys_seal_ad(key, ad, plain, len, sealed);
    sodium_bin2base64(out, MOPAY_SEALED_B64_BYTES, sealed, len + MOPAY_SEAL_AD_OVERHEAD, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(sealed, sizeof(sealed));
}

bool mopay_unseal_b64(const uint8_t key[32], const char *ad, const char *b64, void *out, size_t len, bool *legacy)
{
    uint8_t sealed[MOPAY_SEALED_PLAIN_MAX + MOPAY_SEAL_AD_OVERHEAD], plain[MOPAY_SEALED_PLAIN_MAX + 1];
    size_t sealed_len = 0, plain_len = 0;
    bool was_legacy = false;
    bool ok = b64 != NULL && len <= MOPAY_SEALED_PLAIN_MAX &&
              sodium_base642bin(sealed, sizeof(sealed), b64, strlen(b64), NULL, &sealed_len, NULL,
                                sodium_base64_VARIANT_ORIGINAL) == 0 &&
              sealed_len >= MOPAY_SEAL_OVERHEAD && sealed_len <= len + MOPAY_SEAL_AD_OVERHEAD &&
              mopay_keys_open_ad(key, ad, sealed, sealed_len, plain, &plain_len, &was_legacy) && plain_len == len;
    if (ok)
        memcpy(out, plain, len);
    if (legacy != NULL)
        *legacy = was_legacy;
    sodium_memzero(plain, sizeof(plain));
    return ok;
}

bool mopay_hex_decode(const char *hex, uint8_t *out, size_t len)
{
    size_t got = 0;
    return hex != NULL && strlen(hex) == 2 * len && sodium_hex2bin(out, len, hex, 2 * len, NULL, &got, NULL) == 0 &&
           got == len;
}
