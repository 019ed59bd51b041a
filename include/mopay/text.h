#ifndef MOPAY_TEXT_H
#define MOPAY_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Small text helpers the domain modules share for their records. */

/* Copies `src` into a fixed field that was sized for it: a longer `src` is a programmer error
 * (the caller checked the length when it took the input). */
void mopay_text_copy(char *dst, size_t cap, const char *src);
/* A field read back from a record into its fixed buffer: false, and nothing copied, when the
 * record lacks it (NULL) or it is too long for `cap`. */
bool mopay_text_load(const char *src, char *dst, size_t cap);

/* A secret sealed under `key` (secretbox, mopay/keys.h), as base64 in `out`. `len` is at most
 * MOPAY_SEALED_PLAIN_MAX; `out` holds MOPAY_SEALED_B64_BYTES. */
#define MOPAY_SEALED_PLAIN_MAX 128
#define MOPAY_SEALED_B64_BYTES 240
void mopay_seal_b64(const uint8_t key[32], const void *plain, size_t len, char out[MOPAY_SEALED_B64_BYTES]);
/* Opens what mopay_seal_b64 wrote, when it holds exactly `len` bytes under `key`. */
bool mopay_unseal_b64(const uint8_t key[32], const char *b64, void *out, size_t len);

/* Exactly `len` bytes from 2 * len lowercase or uppercase hex digits. */
bool mopay_hex_decode(const char *hex, uint8_t *out, size_t len);

#endif
