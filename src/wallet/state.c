/* The wallet state in memory: its indexes and the links between its objects. Their durable
 * image is in the journal (records.c). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

struct mopay_wallet_state *mopay_wallet_new(const struct mopay_wallet_options *options)
{
    MOPAY_ASSERT(options->keys != NULL && options->ledger != NULL && options->connector != NULL &&
                 options->journal != NULL);
    struct mopay_wallet_state *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->options = *options;
    pthread_rwlock_init(&w->sessions_lock, NULL);
    bool ok = mopay_index_init(&w->customers, 1024) && mopay_index_init(&w->phones, 1024) &&
              mopay_index_init(&w->devices, 1024) && mopay_index_init(&w->codes, 1024) &&
              mopay_index_init(&w->wallets, 1024) &&
              mopay_index_init(&w->sources, 1024) && mopay_index_init(&w->movements, 1024) &&
              mopay_index_init(&w->sessions, 1024);
    if (!ok) {
        mopay_wallet_free(w);
        return NULL;
    }
    wallet_records_register(w);
    return w;
}

static void index_free_values(struct mopay_index *ix)
{
    for (size_t i = 0; ix->slots != NULL && i < ix->capacity; i++)
        free(ix->slots[i].value);
    mopay_index_deinit(ix);
}

void mopay_wallet_free(struct mopay_wallet_state *w)
{
    if (w == NULL)
        return;
    mopay_index_deinit(&w->phones); /* the customers index owns them */
    mopay_index_deinit(&w->codes);  /* and the devices index these */
    index_free_values(&w->customers);
    index_free_values(&w->devices);
    index_free_values(&w->wallets);
    index_free_values(&w->sources);
    index_free_values(&w->movements);
    index_free_values(&w->sessions);
    pthread_rwlock_destroy(&w->sessions_lock);
    free(w);
}

const struct mopay_wallet_options *mopay_wallet_options(const struct mopay_wallet_state *w)
{
    return &w->options;
}

void mopay_wallet_set_risk(struct mopay_wallet_state *w, const struct mopay_wallet_risk *risk)
{
    w->options.risk = *risk;
}

/* --- memory --- */

bool state_customer_add(struct mopay_wallet_state *w, struct mopay_customer *c)
{
    uint8_t key[16];
    mopay_index_key_of_text(c->phone, strlen(c->phone), key);
    mopay_wallet_fingerprint(w->options.keys, c->phone, c->phone_fingerprint);
    if (!mopay_index_put(&w->customers, c->id.bytes, c))
        return false;
    if (!mopay_index_put(&w->phones, key, c)) {
        mopay_index_remove(&w->customers, c->id.bytes);
        return false;
    }
    return true;
}

void state_customer_remove(struct mopay_wallet_state *w, struct mopay_customer *c)
{
    uint8_t key[16];
    mopay_index_key_of_text(c->phone, strlen(c->phone), key);
    mopay_index_remove(&w->customers, c->id.bytes);
    mopay_index_remove(&w->phones, key);
}

void code_key(uint32_t code_index, uint8_t key[16])
{
    memset(key, 0, 16);
    memcpy(key, &code_index, sizeof(code_index));
}

bool state_device_add(struct mopay_wallet_state *w, struct mopay_device *d)
{
    struct mopay_customer *c = d->customer;
    MOPAY_ASSERT(c->device_count < sizeof(c->devices) / sizeof(c->devices[0]));
    uint8_t key[16];
    code_key(d->code_index, key);
    if (!mopay_index_put(&w->codes, key, d))
        return false;
    if (!mopay_index_put(&w->devices, d->id.bytes, d)) {
        mopay_index_remove(&w->codes, key);
        return false;
    }
    c->devices[c->device_count++] = d;
    return true;
}

bool state_wallet_add(struct mopay_wallet_state *w, struct mopay_wallet *wallet)
{
    struct mopay_customer *c = wallet->customer;
    MOPAY_ASSERT(c->wallet_count < MOPAY_WALLETS_PER_CUSTOMER_MAX);
    if (!mopay_index_put(&w->wallets, wallet->id.bytes, wallet))
        return false;
    c->wallets[c->wallet_count++] = wallet;
    return true;
}

void state_wallet_remove(struct mopay_wallet_state *w, struct mopay_wallet *wallet)
{
    struct mopay_customer *c = wallet->customer;
    MOPAY_ASSERT(c->wallet_count > 0 && c->wallets[c->wallet_count - 1] == wallet); /* the last one added */
    c->wallets[--c->wallet_count] = NULL;
    mopay_index_remove(&w->wallets, wallet->id.bytes);
}

bool state_source_add(struct mopay_wallet_state *w, struct mopay_funding_source *s)
{
    struct mopay_customer *c = s->customer;
    MOPAY_ASSERT(c->source_count < MOPAY_SOURCES_PER_CUSTOMER_MAX);
    if (!mopay_index_put(&w->sources, s->id.bytes, s))
        return false;
    c->sources[c->source_count++] = s;
    return true;
}

bool state_movement_add(struct mopay_wallet_state *w, struct mopay_movement *m)
{
    if (!mopay_index_put(&w->movements, m->id.bytes, m))
        return false;
    if (m->status == MOPAY_MOVEMENT_PENDING) {
        m->next_pending = w->pending;
        w->pending = m;
    }
    return true;
}

void state_pending_unlink(struct mopay_wallet_state *w, struct mopay_movement *m)
{
    for (struct mopay_movement **link = &w->pending; *link != NULL; link = &(*link)->next_pending)
        if (*link == m) {
            *link = m->next_pending;
            m->next_pending = NULL;
            return;
        }
}

bool state_session_add(struct mopay_wallet_state *w, struct mopay_session *s)
{
    pthread_rwlock_wrlock(&w->sessions_lock);
    bool ok = mopay_index_put(&w->sessions, s->hash, s);
    if (ok) {
        if (w->sessions_newest != NULL)
            w->sessions_newest->next = s;
        else
            w->sessions_oldest = s;
        w->sessions_newest = s;
    }
    pthread_rwlock_unlock(&w->sessions_lock);
    return ok;
}

void state_session_remove(struct mopay_wallet_state *w, struct mopay_session *s)
{
    struct mopay_session **link = &w->sessions_oldest, *prev = NULL;
    while (*link != s) {
        MOPAY_ASSERT(*link != NULL); /* it is on the list */
        prev = *link;
        link = &prev->next;
    }
    pthread_rwlock_wrlock(&w->sessions_lock);
    mopay_index_remove(&w->sessions, s->hash);
    *link = s->next;
    pthread_rwlock_unlock(&w->sessions_lock);
    if (w->sessions_newest == s)
        w->sessions_newest = prev;
    free(s);
}

size_t mopay_wallet_customer_count(const struct mopay_wallet_state *w)
{
    return w->customers.count;
}

size_t mopay_wallet_count(const struct mopay_wallet_state *w)
{
    return w->wallets.count;
}
