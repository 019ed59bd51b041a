#ifndef MOPAY_KEYS_H
#define MOPAY_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The master key and the subkeys derived from it. The master key never enters the database: it
 * comes from MOPAY_MASTER_KEY (64 hex digits; wiped and removed from the environment once read)
 * or from a file (64 hex digits, mode 0600: a file group or others may read or write is refused),
 * which is created with a fresh random key when missing. All key material lives in sodium_malloc'd,
 * locked memory, read-only after load. */
struct mopay_keys {
    uint8_t api_key_hash[32]; /* keyed BLAKE2b of API keys and admin keys */
    uint8_t idem_seal[32];    /* secretbox of stored idempotent replies */
    uint8_t card_seal[32];    /* secretbox of card and bank account numbers */
    uint8_t secret_seal[32];  /* secretbox of device secrets, document numbers, webhook secrets */
    uint8_t nfc_issuer[32];   /* the issuer key NFC limited-use keys derive from (mopay/nfc.h) */
};

/* NULL with a reason in `err` when the key is malformed or the file cannot be read or made. */
const struct mopay_keys *mopay_keys_load(const char *path, char *err, size_t err_cap);
void mopay_keys_free(const struct mopay_keys *keys);

/* Keyed BLAKE2b-256 of a bearer secret, for storage and lookup. */
void mopay_keys_hash_secret(const struct mopay_keys *keys, const char *secret, size_t len, uint8_t out[32]);

/* secretbox with a random nonce: out = nonce || box; out_cap >= len + MOPAY_SEAL_OVERHEAD. */
#define MOPAY_SEAL_OVERHEAD 40
void mopay_keys_seal(const uint8_t key[32], const void *plain, size_t len, uint8_t *out);
/* false when the box was tampered with or made under another key. */
bool mopay_keys_open(const uint8_t key[32], const uint8_t *sealed, size_t sealed_len, void *plain_out);

#endif
