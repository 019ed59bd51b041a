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

/* The associated data that binds a sealed value to its row and field: "<kind>/<id>/<field>",
 * e.g. "device/dev_.../code_secret". */
#define MOPAY_SEAL_AD_BYTES 96
void mopay_seal_ad(char out[MOPAY_SEAL_AD_BYTES], const char *kind, const char *id, const char *field);

/* A secret sealed under `key` for the row and field `ad` names (mopay_keys_seal_ad), as base64 in
 * `out`. `len` is at most MOPAY_SEALED_PLAIN_MAX; `out` holds MOPAY_SEALED_B64_BYTES. */
#define MOPAY_SEALED_PLAIN_MAX 128
#define MOPAY_SEALED_B64_BYTES 240
void mopay_seal_b64(const uint8_t key[32], const char *ad, const void *plain, size_t len,
                    char out[MOPAY_SEALED_B64_BYTES]);
/* Opens what mopay_seal_b64 wrote for `ad`, when it holds exactly `len` bytes under `key`; a
 * value sealed before seals were bound to their row opens too, and sets *legacy (when not NULL):
 * the caller writes it again sealed for its row. */
bool mopay_unseal_b64(const uint8_t key[32], const char *ad, const char *b64, void *out, size_t len, bool *legacy);

/* Exactly `len` bytes from 2 * len lowercase or uppercase hex digits. */
bool mopay_hex_decode(const char *hex, uint8_t *out, size_t len);

#endif
