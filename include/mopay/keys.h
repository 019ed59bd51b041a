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
    uint8_t idem_hash[32];    /* keyed BLAKE2b of idempotent requests (mopay_keys_idem_hash) */
    uint8_t card_seal[32];    /* secretbox of card and bank account numbers */
    uint8_t secret_seal[32];  /* secretbox of device secrets, document numbers, webhook secrets */
    uint8_t nfc_issuer[32];   /* the issuer key NFC limited-use keys derive from (mopay/nfc.h) */
    uint8_t pin_pepper[32];   /* keyed BLAKE2b of PINs before Argon2id (mopay_keys_pin_hash) */
};

/* NULL with a reason in `err` when the key is malformed or the file cannot be read or made. */
const struct mopay_keys *mopay_keys_load(const char *path, char *err, size_t err_cap);
void mopay_keys_free(const struct mopay_keys *keys);

/* Keyed BLAKE2b-256 of a bearer secret, for storage and lookup. */
void mopay_keys_hash_secret(const struct mopay_keys *keys, const char *secret, size_t len, uint8_t out[32]);

/* The hash an idempotency record keeps of its request: keyed BLAKE2b-256 of the plain
 * BLAKE2b-256 `digest` of method, path and body, so the database alone reveals nothing of a body
 * (a PIN in it cannot be found by hashing guesses), and records stored before keys were used can
 * be converted in place by keying their plain digest. */
void mopay_keys_idem_hash(const struct mopay_keys *keys, const uint8_t digest[32], uint8_t out[32]);

/* PIN hashes. A six-digit PIN has a million values: Argon2id alone (tens of milliseconds each)
 * gives up any one customer's PIN to a few core-hours of guessing by whoever reads the database.
 * So the PIN is first hashed with keyed BLAKE2b-256 under a subkey of the master key (a pepper),
 * and Argon2id is taken of that; the stored string is MOPAY_PIN_PEPPERED_PREFIX and
 * crypto_pwhash_str's. A hash stored before (crypto_pwhash_str of the PIN itself) still verifies.
 * mopay_keys_pin_hash: false when out of memory; out_cap >= 128. */
#define MOPAY_PIN_PEPPERED_PREFIX "mp1"
#define MOPAY_PIN_HASH_OPS 2                    /* Argon2id passes */
#define MOPAY_PIN_HASH_MEM (19u * 1024 * 1024) /* and memory, OWASP's minimum */
/* Whether a stored hash is peppered; one that is not is replaced at the customer's next log-in. */
bool mopay_keys_pin_peppered(const char *stored);
bool mopay_keys_pin_hash(const struct mopay_keys *keys, const char *pin, size_t len, unsigned long long ops,
                         size_t mem, char *out, size_t out_cap);
bool mopay_keys_pin_verify(const struct mopay_keys *keys, const char *stored, const char *pin, size_t len);

/* secretbox with a random nonce: out = nonce || box; out_cap >= len + MOPAY_SEAL_OVERHEAD. */
#define MOPAY_SEAL_OVERHEAD 40
void mopay_keys_seal(const uint8_t key[32], const void *plain, size_t len, uint8_t *out);
/* false when the box was tampered with or made under another key. */
bool mopay_keys_open(const uint8_t key[32], const uint8_t *sealed, size_t sealed_len, void *plain_out);

/* Seals bound to their row: XChaCha20-Poly1305 with the row's name as associated data (`ad`,
 * "<record kind>/<record id>/<field>"), so a value copied into another row, or another field,
 * does not open there. out = MOPAY_SEAL_VERSION_AD || nonce (24) || ciphertext and tag (16);
 * out_cap >= len + MOPAY_SEAL_AD_OVERHEAD. */
#define MOPAY_SEAL_VERSION_AD 0x02
#define MOPAY_SEAL_AD_OVERHEAD 41
void mopay_keys_seal_ad(const uint8_t key[32], const char *ad, const void *plain, size_t len, uint8_t *out);
/* Opens a value sealed for `ad`, or one sealed before seals were bound (mopay_keys_seal, no
 * associated data: *legacy is then true, and the caller re-seals it with mopay_keys_seal_ad when
 * the row is next written). `plain_out` holds sealed_len - MOPAY_SEAL_OVERHEAD bytes; *plain_len
 * is what was written. false when it opens neither way: tampered with, under another key, or
 * sealed for another row. */
bool mopay_keys_open_ad(const uint8_t key[32], const char *ad, const uint8_t *sealed, size_t sealed_len,
                        void *plain_out, size_t *plain_len, bool *legacy);

#endif
