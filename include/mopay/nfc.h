#ifndef MOPAY_NFC_H
#define MOPAY_NFC_H

#include <stddef.h>
#include <stdint.h>

#include "mopay/err.h"

/* NFC taps from host card emulation: the crypto of mopay's own tap cryptogram, and EMV's 3DES
 * card crypto (EMV Book 2 Annex A) as the documented alternative for a deployment that must
 * speak a card scheme's cryptogram version. Pure functions: no I/O, no clock, no allocation of
 * mopay's own. OpenSSL does the HMACs and the DES, allocating its contexts internally; it fails
 * only when out of memory or without its default provider, and the process then stops
 * (MOPAY_ASSERT) rather than accept or refuse a tap wrongly. */

/* ---- mopay's tap cryptogram ----
 *
 * A device is provisioned with a payment token (never the card or wallet number) and a batch
 * of limited-use keys (LUKs), each good for a few taps and a few days. Each tap sends the
 * application transaction counter (ATC) and an 8-byte cryptogram over the tap's data.
 *
 *     luk        = KDF(issuer key, token, key index)                      (32 bytes)
 *     cryptogram = first 8 bytes of HMAC-SHA256(luk, "mopay nfc tap v1" || amount_minor (8 bytes)
 *                  || currency_numeric (2) || merchant_id (16) || atc (2)
 *                  || unpredictable_number (4))                     numbers big-endian
 *
 * KDF is NIST SP 800-108's KDF in counter mode with HMAC-SHA256 as the PRF, one block:
 *     HMAC-SHA256(issuer key, 00 00 00 01 || "mopay nfc luk v1" || 00 || context || 00 00 01 00)
 *     context = token length (1 byte) || token || key index (4 bytes, big-endian)
 * (the counter i = 1 and the output length L = 256 bits, 4 bytes each). The length byte keeps
 * (token, index) pairs from running into each other.
 *
 * Why not 3DES, as EMV cards use: a double-length 3DES key is worth 80 bits by NIST's count
 * (SP 800-57), and NIST has disallowed two-key 3DES for encryption since 2016 and three-key since
 * 2024 (SP 800-131A). Cards keep it because their chips and the schemes' HSMs do; a host card
 * emulation app has no such chip, and every phone has HMAC-SHA256. So the issuer key is 256
 * bits, the strength of an AES-256 key, used as an HMAC key, and the derivation is a standard
 * KDF rather than block encryptions of padded data. The server keeps no table of LUKs: it
 * derives a tap's LUK from the token and key index it holds. A MAC cut to 8 bytes leaves 64
 * bits against forgery, and each try costs a tap the server sees.
 *
 * What the caller (the server) keeps and checks, as these functions hold no state. Per token:
 * the current key index, the taps made with that LUK, its expiry time and the last ATC seen.
 * On a tap, in this order:
 *   1. the token is live, else nfc_token_unknown;
 *   2. mopay_nfc_cryptogram_verify with the current LUK, else nfc_cryptogram_invalid. Checking
 *      it first means an unauthenticated tap can neither probe nor move the counters;
 *   3. ATC equal to the last one, nfc_replay; below it, nfc_counter_backwards;
 *   4. the LUK past its taps, nfc_key_exhausted; past its expiry, nfc_key_expired;
 *   5. store the new ATC and taps in the same transaction as the payment.
 * The ATC is 2 bytes, as EMV's 9F36: a token whose counter reaches 65535 is replaced. */

#define MOPAY_NFC_ISSUER_KEY_BYTES 32
#define MOPAY_NFC_LUK_BYTES 32
#define MOPAY_NFC_TOKEN_BYTES_MAX 32
#define MOPAY_NFC_MERCHANT_ID_BYTES 16
#define MOPAY_NFC_UN_BYTES 4
#define MOPAY_NFC_CRYPTOGRAM_BYTES 8

/* What a tap's cryptogram covers. */
struct mopay_nfc_tap {
    int64_t amount_minor;       /* >= 0, in minor units of the currency */
    uint16_t currency_numeric;  /* ISO 4217 numeric, 1 to 999 */
    uint8_t merchant_id[MOPAY_NFC_MERCHANT_ID_BYTES];
    uint16_t atc;               /* application transaction counter */
    uint8_t unpredictable_number[MOPAY_NFC_UN_BYTES]; /* the terminal's, fresh each tap */
};

/* The LUK number `key_index` of `token` (1 to MOPAY_NFC_TOKEN_BYTES_MAX bytes) into `luk`. */
void mopay_nfc_luk_derive(const uint8_t issuer_key[MOPAY_NFC_ISSUER_KEY_BYTES], const uint8_t *token,
                          size_t token_len, uint32_t key_index, uint8_t luk[MOPAY_NFC_LUK_BYTES]);

/* The tap's cryptogram, as the phone computes it. */
void mopay_nfc_cryptogram(const uint8_t luk[MOPAY_NFC_LUK_BYTES], const struct mopay_nfc_tap *tap,
                          uint8_t out[MOPAY_NFC_CRYPTOGRAM_BYTES]);

/* MOPAY_OK when `cryptogram` is the tap's, nfc_cryptogram_invalid otherwise, in the same time
 * wherever the bytes differ. The counters are the caller's (above). */
enum mopay_err mopay_nfc_cryptogram_verify(const uint8_t luk[MOPAY_NFC_LUK_BYTES], const struct mopay_nfc_tap *tap,
                                           const uint8_t cryptogram[MOPAY_NFC_CRYPTOGRAM_BYTES]);

/* ---- EMV card crypto (EMV 4.3 Book 2, Annex A1) ----
 *
 * Double-length DES keys of 16 bytes (K1 || K2). ISO/IEC 9797-1 MAC algorithm 3 chains single
 * DES under K1 over the blocks, then decrypts under K2 and encrypts under K1. OpenSSL 3 keeps
 * single DES in its legacy provider, which is not loaded by default and which mopay does not
 * want to load process-wide; DES-EDE (two-key 3DES) with both halves equal to K is exactly
 * single DES under K, since E_K(D_K(E_K(x))) = E_K(x), and DES-EDE is in the default provider.
 * Derived keys have odd parity in every byte, as cards and HSMs store them; parity bits do not
 * change what DES computes. */

#define MOPAY_EMV_KEY_BYTES 16

enum mopay_emv_padding {
    MOPAY_EMV_PAD_ISO9797_1 = 1, /* zeros to a whole block, none if already whole (Visa CVN 10) */
    MOPAY_EMV_PAD_ISO9797_2 = 2, /* 80 then zeros to a whole block (EMV's ARQC, ARPC method 2) */
};

/* ICC master key from the issuer master key, option A: the rightmost 16 digits of PAN || PSN
 * (left-padded with zeros) as 8 BCD bytes Y; the key is 3DES(Y) || 3DES(Y xor FF..FF).
 * `pan` is 12 to 19 ASCII digits, `psn` 2 ASCII digits (the PAN sequence number, "00" when
 * the card has none). */
void mopay_emv_icc_mk_derive_a(const uint8_t issuer_mk[MOPAY_EMV_KEY_BYTES], const char *pan, size_t pan_len,
                               const char psn[2], uint8_t icc_mk[MOPAY_EMV_KEY_BYTES]);

/* EMV common session key derivation: 3DES of the 8-byte diversification value R with its third
 * byte set to F0, then to 0F (R is ATC || 00 00 00 00 00 00 for application cryptograms). */
void mopay_emv_session_key(const uint8_t icc_mk[MOPAY_EMV_KEY_BYTES], const uint8_t r[8],
                           uint8_t session_key[MOPAY_EMV_KEY_BYTES]);

/* ISO/IEC 9797-1 MAC algorithm 3 over `data`, padded with `padding`: the ARQC (and TC, AAC)
 * when `data` is the card's cryptogram data. */
void mopay_emv_mac(const uint8_t key[MOPAY_EMV_KEY_BYTES], const uint8_t *data, size_t len,
                   enum mopay_emv_padding padding, uint8_t mac[8]);

/* ARPC method 1: 3DES(ARQC xor (ARC || 00 00 00 00 00 00)), ARC the 2-byte response code. */
void mopay_emv_arpc_1(const uint8_t session_key[MOPAY_EMV_KEY_BYTES], const uint8_t arqc[8], const uint8_t arc[2],
                      uint8_t arpc[8]);

/* ARPC method 2: the first 4 bytes of the MAC (padding method 2) of ARQC || CSU || proprietary
 * authentication data (0 to 8 bytes). */
void mopay_emv_arpc_2(const uint8_t session_key[MOPAY_EMV_KEY_BYTES], const uint8_t arqc[8], const uint8_t csu[4],
                      const uint8_t *proprietary, size_t proprietary_len, uint8_t arpc[4]);

/* Key check value: the first 3 bytes of 3DES of a zero block, for comparing keys without
 * showing them (key ceremonies, HSM imports). */
void mopay_emv_key_check_value(const uint8_t key[MOPAY_EMV_KEY_BYTES], uint8_t kcv[3]);

#endif
