/* mopay's tap cryptogram (nfc.h): limited-use keys by SP 800-108 KDF, HMAC-SHA256 cryptograms. */
#include "mopay/nfc.h"

#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"

#define LABEL_BYTES 16
#define LUK_LABEL "mopay nfc luk v1"
#define TAP_LABEL "mopay nfc tap v1"
#define KDF_COUNTER 1                      /* the one HMAC block, i = 1 */
#define KDF_OUTPUT_BITS (8 * MOPAY_NFC_LUK_BYTES) /* L */

_Static_assert(sizeof(LUK_LABEL) - 1 == LABEL_BYTES && sizeof(TAP_LABEL) - 1 == LABEL_BYTES, "label size");
_Static_assert(MOPAY_NFC_TOKEN_BYTES_MAX <= UINT8_MAX, "the token's length is one byte");

void mopay_nfc_luk_derive(const uint8_t issuer_key[MOPAY_NFC_ISSUER_KEY_BYTES], const uint8_t *token,
                          size_t token_len, uint32_t key_index, uint8_t luk[MOPAY_NFC_LUK_BYTES])
{
    MOPAY_ASSERT(issuer_key != NULL && token != NULL && luk != NULL);
    MOPAY_ASSERT(token_len >= 1 && token_len <= MOPAY_NFC_TOKEN_BYTES_MAX);
    /* [i]4 || label || 00 || context || [L]4, context = [len]1 || token || [key index]4 */
    uint8_t msg[4 + LABEL_BYTES + 1 + 1 + MOPAY_NFC_TOKEN_BYTES_MAX + 4 + 4];
    size_t n = 0;
    instrument_put_be(msg, KDF_COUNTER, 4);
    n += 4;
    memcpy(msg + n, LUK_LABEL, LABEL_BYTES);
    n += LABEL_BYTES;
    msg[n++] = 0x00;
    msg[n++] = (uint8_t)token_len;
    memcpy(msg + n, token, token_len);
    n += token_len;
    instrument_put_be(msg + n, key_index, 4);
    n += 4;
    instrument_put_be(msg + n, KDF_OUTPUT_BITS, 4);
    n += 4;
    uint8_t mac[INSTRUMENT_HMAC_BYTES_MAX];
    size_t mac_len = instrument_hmac(MOPAY_OTP_SHA256, issuer_key, MOPAY_NFC_ISSUER_KEY_BYTES, msg, n, mac);
    MOPAY_ASSERT(mac_len == MOPAY_NFC_LUK_BYTES);
    memcpy(luk, mac, MOPAY_NFC_LUK_BYTES);
    sodium_memzero(mac, sizeof(mac));
}

void mopay_nfc_cryptogram(const uint8_t luk[MOPAY_NFC_LUK_BYTES], const struct mopay_nfc_tap *tap,
                          uint8_t out[MOPAY_NFC_CRYPTOGRAM_BYTES])
{
    MOPAY_ASSERT(luk != NULL && tap != NULL && out != NULL);
    MOPAY_ASSERT(tap->amount_minor >= 0);
    MOPAY_ASSERT(tap->currency_numeric >= 1 && tap->currency_numeric <= 999);
    uint8_t msg[LABEL_BYTES + 8 + 2 + MOPAY_NFC_MERCHANT_ID_BYTES + 2 + MOPAY_NFC_UN_BYTES];
    uint8_t *p = msg;
    memcpy(p, TAP_LABEL, LABEL_BYTES);
    p += LABEL_BYTES;
    instrument_put_be(p, (uint64_t)tap->amount_minor, 8);
    p += 8;
    instrument_put_be(p, tap->currency_numeric, 2);
    p += 2;
    memcpy(p, tap->merchant_id, MOPAY_NFC_MERCHANT_ID_BYTES);
    p += MOPAY_NFC_MERCHANT_ID_BYTES;
    instrument_put_be(p, tap->atc, 2);
    p += 2;
    memcpy(p, tap->unpredictable_number, MOPAY_NFC_UN_BYTES);
    p += MOPAY_NFC_UN_BYTES;
    MOPAY_ASSERT(p == msg + sizeof(msg));
    uint8_t mac[INSTRUMENT_HMAC_BYTES_MAX];
    instrument_hmac(MOPAY_OTP_SHA256, luk, MOPAY_NFC_LUK_BYTES, msg, sizeof(msg), mac);
    memcpy(out, mac, MOPAY_NFC_CRYPTOGRAM_BYTES);
    sodium_memzero(mac, sizeof(mac));
}

enum mopay_err mopay_nfc_cryptogram_verify(const uint8_t luk[MOPAY_NFC_LUK_BYTES], const struct mopay_nfc_tap *tap,
                                           const uint8_t cryptogram[MOPAY_NFC_CRYPTOGRAM_BYTES])
{
    MOPAY_ASSERT(cryptogram != NULL);
    uint8_t expected[MOPAY_NFC_CRYPTOGRAM_BYTES];
    mopay_nfc_cryptogram(luk, tap, expected);
    int differs = sodium_memcmp(expected, cryptogram, MOPAY_NFC_CRYPTOGRAM_BYTES);
    sodium_memzero(expected, sizeof(expected));
    return differs == 0 ? MOPAY_OK : MOPAY_ERR_nfc_cryptogram_invalid;
}
