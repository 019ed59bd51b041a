/* Merchants and orders in memory, and their records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/json.h"

struct mopay_merchant_state *mopay_merchant_state_new(const struct mopay_merchant_options *options)
{
    MOPAY_ASSERT(options->keys != NULL && options->ledger != NULL);
    struct mopay_merchant_state *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->options = *options;
    pthread_rwlock_init(&m->keys_lock, NULL);
    if (!mopay_index_init(&m->merchants, 256) || !mopay_index_init(&m->orders, 1024) ||
        !mopay_index_init(&m->keys, 256) || !mopay_index_init(&m->bills, 256) ||
        !mopay_index_init(&m->references, 256)) {
        mopay_merchant_state_free(m);
        return NULL;
    }
    return m;
}

void mopay_merchant_state_free(struct mopay_merchant_state *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; m->merchants.slots != NULL && i < m->merchants.capacity; i++)
        free(m->merchants.slots[i].value);
    for (size_t i = 0; m->orders.slots != NULL && i < m->orders.capacity; i++)
        free(m->orders.slots[i].value);
    for (size_t i = 0; m->bills.slots != NULL && i < m->bills.capacity; i++)
        free(m->bills.slots[i].value);
    mopay_index_deinit(&m->merchants);
    mopay_index_deinit(&m->orders);
    mopay_index_deinit(&m->bills);
    mopay_index_deinit(&m->references);
    mopay_index_deinit(&m->keys);
    pthread_rwlock_destroy(&m->keys_lock);
    free(m);
}

struct mopay_merchant *mopay_merchant_get(struct mopay_merchant_state *m, const struct mopay_id *id)
{
    return mopay_index_get(&m->merchants, id->bytes);
}

struct mopay_order *mopay_order_get(struct mopay_merchant_state *m, const struct mopay_id *id)
{
    return mopay_index_get(&m->orders, id->bytes);
}

/* Indexes a merchant and its live keys. */
bool merchant_add(struct mopay_merchant_state *m, struct mopay_merchant *merchant)
{
    if (!mopay_index_put(&m->merchants, merchant->id.bytes, merchant))
        return false;
    bool ok = true;
    pthread_rwlock_wrlock(&m->keys_lock);
    for (size_t i = 0; ok && i < merchant->key_count; i++)
        if (merchant->keys[i].revoked_at_ns == 0)
            ok = mopay_index_put(&m->keys, merchant->keys[i].hash, merchant);
    pthread_rwlock_unlock(&m->keys_lock);
    return ok;
}

bool order_add(struct mopay_merchant_state *m, struct mopay_order *order)
{
    if (!mopay_index_put(&m->orders, order->id.bytes, order))
        return false;
    if (order->status == MOPAY_ORDER_OPEN) {
        order->next_open = m->open_orders;
        m->open_orders = order;
    }
    return true;
}

bool mopay_merchant_key_find(struct mopay_merchant_state *m, const uint8_t hash[32], struct mopay_id *out)
{
    pthread_rwlock_rdlock(&m->keys_lock);
    const struct mopay_merchant *merchant = mopay_index_get(&m->keys, hash);
    bool live = false;
    for (size_t i = 0; merchant != NULL && i < merchant->key_count && !live; i++)
        live = merchant->keys[i].revoked_at_ns == 0 && sodium_memcmp(merchant->keys[i].hash, hash, 32) == 0;
    if (live)
        *out = merchant->id;
    pthread_rwlock_unlock(&m->keys_lock);
    return live;
}

/* --- records --- */

static json_t *keys_json(const struct mopay_merchant *merchant)
{
    json_t *keys = json_array();
    for (size_t i = 0; i < merchant->key_count; i++) {
        const struct mopay_merchant_key *k = &merchant->keys[i];
        char hash[65];
        sodium_bin2hex(hash, sizeof(hash), k->hash, 32);
        json_array_append_new(keys, json_pack("{s:s, s:s, s:I, s:I}", "hash", hash, "last4", k->last4, "created_at_ns",
                                              (json_int_t)k->created_at_ns, "revoked_at_ns",
                                              (json_int_t)k->revoked_at_ns));
    }
    return keys;
}

enum mopay_err merchant_record(struct mopay_merchant_state *m, struct mopay_store *store, int64_t now_ns,
                               const struct mopay_merchant *merchant)
{
    char id[MOPAY_ID_TEXT_BYTES], secret[MOPAY_SEALED_B64_BYTES], ad[MOPAY_SEAL_AD_BYTES];
    mopay_id_format(MOPAY_ID_MERCHANT, &merchant->id, id);
    mopay_seal_ad(ad, "merchant", id, "webhook_secret");
    mopay_seal_b64(m->options.keys->secret_seal, ad, merchant->webhook_secret, MOPAY_WEBHOOK_SECRET_BYTES, secret);
    json_t *j = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:o, s:I}", "id", id, "kind",
                          (int)merchant->kind, "name",
                          merchant->name, "mcc", merchant->mcc, "country", merchant->country, "city", merchant->city,
                          "currency", merchant->currency->alpha, "fee_bps", merchant->fee_bps,
                          "settlement_account", merchant->settlement_account, "webhook_url", merchant->webhook_url,
                          "webhook_secret_sealed", secret, "keys", keys_json(merchant), "created_at_ns",
                          (json_int_t)merchant->created_at_ns);
    if (merchant->webhook_secret_text) /* absent in records made before: 64 hex digits */
        json_object_set_new(j, "webhook_secret_form", json_string("whsec"));
    return mopay_store_record_put_json(store, "merchant", id, j, now_ns);
}

enum mopay_err order_record(struct mopay_store *store, int64_t now_ns, const struct mopay_order *order)
{
    char id[MOPAY_ID_TEXT_BYTES], merchant[MOPAY_ID_TEXT_BYTES], payment[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_ORDER, &order->id, id);
    mopay_id_format(MOPAY_ID_MERCHANT, &order->merchant->id, merchant);
    mopay_id_format(MOPAY_ID_PAYMENT, &order->payment_id, payment);
    json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:s, s:b, s:I, s:i, s:s, s:I, s:I, s:I}", "id", id, "merchant_id",
                          merchant, "amount_minor", (json_int_t)order->amount_minor, "reference", order->reference,
                          "description", order->description, "tax_free", order->tax_free, "vat_minor",
                          (json_int_t)order->vat_minor, "status", (int)order->status, "payment_id", payment,
                          "created_at_ns", (json_int_t)order->created_at_ns, "expires_at_ns",
                          (json_int_t)order->expires_at_ns, "paid_at_ns", (json_int_t)order->paid_at_ns);
    return mopay_store_record_put_json(store, "order", id, j, now_ns);
}

size_t mopay_merchant_count(const struct mopay_merchant_state *m)
{
    return m->merchants.count;
}

size_t mopay_order_count(const struct mopay_merchant_state *m)
{
    return m->orders.count;
}

uint64_t mopay_merchant_expiries_deferred(const struct mopay_merchant_state *m)
{
    return atomic_load(&m->expiries_deferred);
}
