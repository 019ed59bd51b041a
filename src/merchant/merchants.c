/* Merchants: created by the operator, each with a ledger account in its currency, API keys
 * (stored as keyed hashes) and a webhook secret (stored sealed). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"

static enum mopay_err ledger_account(struct mopay_merchant_state *m, const struct mopay_merchant *merchant,
                                     int64_t now_ns)
{
    struct mopay_ledger_account a;
    memset(&a, 0, sizeof(a));
    a.id = merchant->id;
    a.currency = merchant->currency->numeric;
    a.kind = MOPAY_LEDGER_KIND_MERCHANT;
    /* Refunds and fees debit it: they may not take it below zero. */
    a.flags = MOPAY_LEDGER_DEBITS_MUST_NOT_EXCEED_CREDITS;
    uint8_t result = 0;
    mopay_ledger_service_create_accounts(m->options.ledger, &a, 1, now_ns, &result);
    return result == MOPAY_LEDGER_ok ? MOPAY_OK : MOPAY_ERR_ledger_rejected;
}

static void key_set(struct mopay_merchant_key *k, const char *key, const uint8_t hash[32], int64_t now_ns)
{
    memset(k, 0, sizeof(*k));
    memcpy(k->hash, hash, 32);
    size_t len = strlen(key);
    MOPAY_ASSERT(len > 4);
    mopay_text_copy(k->last4, sizeof(k->last4), key + len - 4);
    k->created_at_ns = now_ns;
}

enum mopay_err mopay_merchant_create(struct mopay_merchant_state *m, struct mopay_store *store, int64_t now_ns,
                                     const struct mopay_merchant_input *in, struct mopay_merchant **out)
{
    (void)store; /* the merchant's record goes to the journal */
    /* the caller's admission check makes this unreachable; checked before anything changes */
    if (mopay_ledger_service_accounts_room(m->options.ledger, 1) != MOPAY_OK)
        return MOPAY_ERR_capacity_exhausted;
    struct mopay_merchant *merchant = calloc(1, sizeof(*merchant));
    if (merchant == NULL)
        return MOPAY_ERR_internal;
    mopay_id_new(now_ns, &merchant->id);
    merchant->kind = in->kind;
    mopay_text_copy(merchant->name, sizeof(merchant->name), in->name);
    mopay_text_copy(merchant->mcc, sizeof(merchant->mcc), in->mcc);
    mopay_text_copy(merchant->country, sizeof(merchant->country), in->country);
    mopay_text_copy(merchant->city, sizeof(merchant->city), in->city);
    merchant->currency = in->currency;
    merchant->fee_bps = in->fee_bps;
    mopay_text_copy(merchant->settlement_account, sizeof(merchant->settlement_account), in->settlement_account);
    mopay_text_copy(merchant->webhook_url, sizeof(merchant->webhook_url), in->webhook_url);
    memcpy(merchant->webhook_secret, in->webhook_secret, MOPAY_WEBHOOK_SECRET_BYTES);
    merchant->webhook_secret_text = true;
    key_set(&merchant->keys[0], in->key, in->key_hash, now_ns);
    merchant->key_count = 1;
    merchant->created_at_ns = now_ns;
    /* the account first: with room checked and a fresh id it cannot fail, but if it did, nothing
     * would have changed */
    enum mopay_err err = ledger_account(m, merchant, now_ns);
    if (err != MOPAY_OK) {
        free(merchant);
        return err;
    }
    if (!merchant_add(m, merchant)) {
        free(merchant); /* out of memory: the account stays, unused, like any account */
        return MOPAY_ERR_internal;
    }
    *out = merchant;
    return merchant_record(m, now_ns, merchant);
}

enum mopay_err mopay_merchant_key_add(struct mopay_merchant_state *m, struct mopay_store *store, int64_t now_ns,
                                      struct mopay_merchant *merchant, const char *key, const uint8_t hash[32],
                                      bool revoke_others)
{
    (void)store; /* the merchant's record goes to the journal */
    size_t slot = merchant->key_count;
    if (slot == MOPAY_MERCHANT_KEYS_MAX) { /* reuse the oldest revoked slot, or refuse */
        for (slot = 0; slot < merchant->key_count && merchant->keys[slot].revoked_at_ns == 0; slot++)
            ;
        if (slot == merchant->key_count && !revoke_others)
            return MOPAY_ERR_field_invalid;
        slot = slot == merchant->key_count ? 0 : slot;
    }
    pthread_rwlock_wrlock(&m->keys_lock);
    for (size_t i = 0; i < merchant->key_count; i++) {
        struct mopay_merchant_key *k = &merchant->keys[i];
        if ((revoke_others || i == slot) && k->revoked_at_ns == 0) {
            k->revoked_at_ns = now_ns;
            mopay_index_remove(&m->keys, k->hash);
        }
    }
    key_set(&merchant->keys[slot], key, hash, now_ns);
    merchant->key_count = slot == merchant->key_count ? slot + 1 : merchant->key_count;
    bool ok = mopay_index_put(&m->keys, hash, merchant);
    pthread_rwlock_unlock(&m->keys_lock);
    MOPAY_ASSERT(ok);
    return merchant_record(m, now_ns, merchant);
}

void mopay_merchant_webhook_secret_format(const uint8_t secret[MOPAY_WEBHOOK_SECRET_BYTES],
                                          char out[MOPAY_WEBHOOK_SECRET_TEXT_BYTES])
{
    memcpy(out, "whsec_", 6);
    sodium_bin2base64(out + 6, MOPAY_WEBHOOK_SECRET_TEXT_BYTES - 6, secret, MOPAY_WEBHOOK_SECRET_BYTES,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void mopay_merchant_webhook_secret_text(const struct mopay_merchant *merchant,
                                        char out[MOPAY_WEBHOOK_SECRET_TEXT_BYTES + 16])
{
    if (merchant->webhook_secret_text)
        mopay_merchant_webhook_secret_format(merchant->webhook_secret, out);
    else
        sodium_bin2hex(out, 2 * MOPAY_WEBHOOK_SECRET_BYTES + 1, merchant->webhook_secret, MOPAY_WEBHOOK_SECRET_BYTES);
}

size_t mopay_merchant_webhook_key(const struct mopay_merchant *merchant, uint8_t key[MOPAY_WEBHOOK_SECRET_TEXT_BYTES])
{
    if (!merchant->webhook_secret_text) {
        memcpy(key, merchant->webhook_secret, MOPAY_WEBHOOK_SECRET_BYTES);
        return MOPAY_WEBHOOK_SECRET_BYTES;
    }
    char text[MOPAY_WEBHOOK_SECRET_TEXT_BYTES + 16];
    mopay_merchant_webhook_secret_text(merchant, text);
    size_t len = strlen(text);
    MOPAY_ASSERT(len == MOPAY_WEBHOOK_SECRET_TEXT_BYTES - 1);
    memcpy(key, text, len);
    sodium_memzero(text, sizeof(text));
    return len;
}

enum mopay_err mopay_merchant_webhook_secret_set(struct mopay_merchant_state *m, struct mopay_store *store,
                                                 int64_t now_ns, struct mopay_merchant *merchant,
                                                 const uint8_t secret[MOPAY_WEBHOOK_SECRET_BYTES])
{
    (void)store; /* the merchant's record goes to the journal */
    memcpy(merchant->webhook_secret, secret, MOPAY_WEBHOOK_SECRET_BYTES);
    merchant->webhook_secret_text = true;
    return merchant_record(m, now_ns, merchant);
}

int64_t mopay_merchant_fee(const struct mopay_merchant *merchant, int64_t amount_minor)
{
    MOPAY_ASSERT(amount_minor >= 0 && merchant->fee_bps >= 0 && merchant->fee_bps <= MOPAY_FEE_BPS_MAX);
    return (int64_t)(((__int128)amount_minor * merchant->fee_bps) / 10000);
}
