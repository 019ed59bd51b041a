#include "mopay/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "mopay/assert.h"

#define KDF_CONTEXT "mopaykey"
enum { SUBKEY_API_KEY_HASH = 1, SUBKEY_IDEM_SEAL = 2, SUBKEY_CARD_SEAL = 3, SUBKEY_SECRET_SEAL = 4, SUBKEY_NFC_ISSUER = 5,
       SUBKEY_IDEM_HASH = 6, SUBKEY_PIN_PEPPER = 7 };

static bool master_from_hex(const char *hex, size_t len, uint8_t master[32])
{
    size_t bin_len = 0;
    while (len > 0 && (hex[len - 1] == '\n' || hex[len - 1] == '\r' || hex[len - 1] == ' '))
        len--;
    return len == 64 && sodium_hex2bin(master, 32, hex, len, NULL, &bin_len, NULL) == 0 && bin_len == 32;
}

static bool mkdir_parent(const char *path)
{
    char dir[1024];
    const char *slash = strrchr(path, '/');
    if (slash == NULL || slash == path)
        return true;
    size_t n = (size_t)(slash - path);
    if (n >= sizeof(dir))
        return false;
    memcpy(dir, path, n);
    dir[n] = '\0';
    return mkdir(dir, 0700) == 0 || errno == EEXIST;
}

/* The master key decrypts every sealed value: a file that anyone but its owner may read or
 * write is refused, with the command that fixes it. */
static bool master_file_private(int fd, const char *path, char *err, size_t err_cap)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, err_cap, "master key file %s: %s", path, strerror(errno));
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, err_cap, "master key file %s is not a regular file", path);
        return false;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(err, err_cap,
                 "master key file %s has mode %04o: group or others may read or write it; "
                 "run 'chmod 600 %s' (and check who else could have read it)",
                 path, (unsigned)(st.st_mode & 07777), path);
        return false;
    }
    return true;
}

/* MOPAY_MASTER_KEY: read once, then wiped where it lies and removed from the environment, so
 * neither a child process nor /proc/PID/environ shows it. */
static bool master_from_env(uint8_t master[32], bool *given, char *err, size_t err_cap)
{
    char *env = getenv("MOPAY_MASTER_KEY");
    *given = env != NULL && env[0] != '\0';
    if (env == NULL)
        return true;
    bool ok = !*given || master_from_hex(env, strlen(env), master);
    sodium_memzero(env, strlen(env));
    unsetenv("MOPAY_MASTER_KEY");
    if (!ok)
        snprintf(err, err_cap, "MOPAY_MASTER_KEY: expected 64 hex digits");
    return ok;
}

/* Reads the master key from `path`, or writes a fresh one there (O_EXCL, so two processes
 * starting together cannot each make their own). */
static bool master_from_file(const char *path, uint8_t master[32], char *err, size_t err_cap)
{
    char hex[130];
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (!master_file_private(fd, path, err, err_cap)) {
                close(fd);
                return false;
            }
            ssize_t n = read(fd, hex, sizeof(hex) - 1);
            close(fd);
            if (n < 0 || !master_from_hex(hex, (size_t)n, master)) {
                snprintf(err, err_cap, "master key file %s: expected 64 hex digits", path);
                return false;
            }
            return true;
        }
        if (errno != ENOENT || !mkdir_parent(path))
            break;
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            if (errno == EEXIST)
                continue;
            break;
        }
        uint8_t fresh[32];
        randombytes_buf(fresh, sizeof(fresh));
        sodium_bin2hex(hex, sizeof(hex), fresh, sizeof(fresh));
        sodium_memzero(fresh, sizeof(fresh));
        hex[64] = '\n';
        bool ok = write(fd, hex, 65) == 65 && fsync(fd) == 0;
        close(fd);
        if (!ok)
            break;
    }
    snprintf(err, err_cap, "master key file %s: %s", path, strerror(errno));
    return false;
}

const struct mopay_keys *mopay_keys_load(const char *path, char *err, size_t err_cap)
{
    if (sodium_init() < 0) {
        snprintf(err, err_cap, "libsodium failed to initialize");
        return NULL;
    }
    uint8_t *master = sodium_malloc(32);
    struct mopay_keys *keys = sodium_malloc(sizeof(*keys));
    if (master == NULL || keys == NULL) {
        snprintf(err, err_cap, "out of locked memory for keys");
        goto fail;
    }
    bool from_env = false;
    if (!master_from_env(master, &from_env, err, err_cap) ||
        (!from_env && !master_from_file(path, master, err, err_cap)))
        goto fail;
    crypto_kdf_derive_from_key(keys->api_key_hash, 32, SUBKEY_API_KEY_HASH, KDF_CONTEXT, master);
    crypto_kdf_derive_from_key(keys->idem_seal, 32, SUBKEY_IDEM_SEAL, KDF_CONTEXT, master);
    crypto_kdf_derive_from_key(keys->card_seal, 32, SUBKEY_CARD_SEAL, KDF_CONTEXT, master);
    crypto_kdf_derive_from_key(keys->secret_seal, 32, SUBKEY_SECRET_SEAL, KDF_CONTEXT, master);
    crypto_kdf_derive_from_key(keys->nfc_issuer, 32, SUBKEY_NFC_ISSUER, KDF_CONTEXT, master);
    crypto_kdf_derive_from_key(keys->idem_hash, 32, SUBKEY_IDEM_HASH, KDF_CONTEXT, master);
    crypto_kdf_derive_from_key(keys->pin_pepper, 32, SUBKEY_PIN_PEPPER, KDF_CONTEXT, master);
    sodium_free(master);
    sodium_mprotect_readonly(keys);
    return keys;
fail:
    sodium_free(master);
    sodium_free(keys);
    return NULL;
}

void mopay_keys_free(const struct mopay_keys *keys)
{
    if (keys != NULL)
        sodium_free((void *)keys);
}

void mopay_keys_hash_secret(const struct mopay_keys *keys, const char *secret, size_t len, uint8_t out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)secret, len, keys->api_key_hash, 32);
}

void mopay_keys_idem_hash(const struct mopay_keys *keys, const uint8_t digest[32], uint8_t out[32])
{
    crypto_generichash(out, 32, digest, 32, keys->idem_hash, 32);
}

void mopay_keys_seal(const uint8_t key[32], const void *plain, size_t len, uint8_t *out)
{
    _Static_assert(MOPAY_SEAL_OVERHEAD == crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES, "overhead");
    randombytes_buf(out, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, plain, len, out, key);
}

bool mopay_keys_open(const uint8_t key[32], const uint8_t *sealed, size_t sealed_len, void *plain_out)
{
    if (sealed_len < MOPAY_SEAL_OVERHEAD)
        return false;
    return crypto_secretbox_open_easy(plain_out, sealed + crypto_secretbox_NONCEBYTES,
                                      sealed_len - crypto_secretbox_NONCEBYTES, sealed, key) == 0;
}

void mopay_keys_seal_ad(const uint8_t key[32], const char *ad, const void *plain, size_t len, uint8_t *out)
{
    enum { NONCE = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES };
    _Static_assert(MOPAY_SEAL_AD_OVERHEAD == 1 + NONCE + crypto_aead_xchacha20poly1305_ietf_ABYTES, "overhead");
    MOPAY_ASSERT(ad != NULL && ad[0] != '\0');
    out[0] = MOPAY_SEAL_VERSION_AD;
    randombytes_buf(out + 1, NONCE);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + 1 + NONCE, NULL, plain, len, (const unsigned char *)ad,
                                               strlen(ad), NULL, out + 1, key);
}

bool mopay_keys_open_ad(const uint8_t key[32], const char *ad, const uint8_t *sealed, size_t sealed_len,
                        void *plain_out, size_t *plain_len, bool *legacy)
{
    enum { NONCE = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES };
    MOPAY_ASSERT(ad != NULL && ad[0] != '\0');
    *legacy = false;
    *plain_len = 0;
    unsigned long long n = 0;
    if (sealed_len >= MOPAY_SEAL_AD_OVERHEAD && sealed[0] == MOPAY_SEAL_VERSION_AD &&
        crypto_aead_xchacha20poly1305_ietf_decrypt(plain_out, &n, NULL, sealed + 1 + NONCE, sealed_len - 1 - NONCE,
                                                   (const unsigned char *)ad, strlen(ad), sealed + 1, key) == 0) {
        *plain_len = (size_t)n;
        return true;
    }
    /* sealed before seals were bound to their row (its first byte is a random nonce's, which may
     * be 0x02 too: then the attempt above failed and this one decides) */
    if (!mopay_keys_open(key, sealed, sealed_len, plain_out))
        return false;
    *legacy = true;
    *plain_len = sealed_len - MOPAY_SEAL_OVERHEAD;
    return true;
}

/* The Argon2id password for a PIN: hex of its keyed BLAKE2b-256. */
static void pin_peppered(const struct mopay_keys *keys, const char *pin, size_t len, char hex[65])
{
    uint8_t h[32];
    crypto_generichash(h, sizeof(h), (const unsigned char *)pin, len, keys->pin_pepper, sizeof(keys->pin_pepper));
    sodium_bin2hex(hex, 65, h, sizeof(h));
    sodium_memzero(h, sizeof(h));
}

bool mopay_keys_pin_hash(const struct mopay_keys *keys, const char *pin, size_t len, unsigned long long ops,
                         size_t mem, char *out, size_t out_cap)
{
    const size_t prefix = sizeof(MOPAY_PIN_PEPPERED_PREFIX) - 1;
    char hex[65], hashed[crypto_pwhash_STRBYTES];
    pin_peppered(keys, pin, len, hex);
    bool ok = crypto_pwhash_str(hashed, hex, 64, ops, mem) == 0 && prefix + strlen(hashed) < out_cap;
    if (ok) {
        memcpy(out, MOPAY_PIN_PEPPERED_PREFIX, prefix);
        memcpy(out + prefix, hashed, strlen(hashed) + 1);
    }
    sodium_memzero(hex, sizeof(hex));
    return ok;
}

bool mopay_keys_pin_peppered(const char *stored)
{
    return strncmp(stored, MOPAY_PIN_PEPPERED_PREFIX, sizeof(MOPAY_PIN_PEPPERED_PREFIX) - 1) == 0;
}

bool mopay_keys_pin_verify(const struct mopay_keys *keys, const char *stored, const char *pin, size_t len)
{
    const size_t prefix = sizeof(MOPAY_PIN_PEPPERED_PREFIX) - 1;
    if (strncmp(stored, MOPAY_PIN_PEPPERED_PREFIX, prefix) != 0)
        return crypto_pwhash_str_verify(stored, pin, len) == 0; /* stored before PINs were peppered */
    char hex[65];
    pin_peppered(keys, pin, len, hex);
    bool ok = crypto_pwhash_str_verify(stored + prefix, hex, 64) == 0;
    sodium_memzero(hex, sizeof(hex));
    return ok;
}
