/* Merchants and orders in memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"

struct mopay_merchant_state *mopay_merchant_state_new(const struct mopay_merchant_options *options)
{
    MOPAY_ASSERT(options->keys != NULL && options->ledger != NULL && options->journal != NULL);
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
    merchant_records_register(m);
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

/* The key index's entries for the merchant's live keys: in (put) or out. Under keys_lock. */
static bool keys_index(struct mopay_merchant_state *m, struct mopay_merchant *merchant)
{
    for (size_t i = 0; i < merchant->key_count; i++)
        if (merchant->keys[i].revoked_at_ns == 0 && !mopay_index_put(&m->keys, merchant->keys[i].hash, merchant))
            return false;
    return true;
}

static void keys_unindex(struct mopay_merchant_state *m, const struct mopay_merchant *merchant)
{
    for (size_t i = 0; i < merchant->key_count; i++)
        if (mopay_index_get(&m->keys, merchant->keys[i].hash) == merchant)
            mopay_index_remove(&m->keys, merchant->keys[i].hash);
}

/* Indexes a merchant and its live keys; out of memory, it is left in neither index. */
bool merchant_add(struct mopay_merchant_state *m, struct mopay_merchant *merchant)
{
    if (!mopay_index_put(&m->merchants, merchant->id.bytes, merchant))
        return false;
    pthread_rwlock_wrlock(&m->keys_lock);
    bool ok = keys_index(m, merchant);
    if (!ok)
        keys_unindex(m, merchant);
    pthread_rwlock_unlock(&m->keys_lock);
    if (!ok)
        mopay_index_remove(&m->merchants, merchant->id.bytes);
    return ok;
}

bool merchant_replace(struct mopay_merchant_state *m, struct mopay_merchant *merchant,
                      const struct mopay_merchant *image)
{
    /* under the lock: event-loop threads read the keys of the merchant they find */
    pthread_rwlock_wrlock(&m->keys_lock);
    keys_unindex(m, merchant);
    mopay_codec_copy(&mopay_merchant_merchant_kind, merchant, image);
    bool ok = keys_index(m, merchant);
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
