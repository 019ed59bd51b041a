#include <string.h>

#include "internal.h"
#include "mopay/clock.h"
#include "mopay/assert.h"

void auth_init(struct auth_table *t)
{
    memset(t->entries, 0, sizeof(t->entries));
    t->count = 0;
    pthread_rwlock_init(&t->lock, NULL);
}

void auth_deinit(struct auth_table *t)
{
    pthread_rwlock_destroy(&t->lock);
}

static size_t slot_of(const uint8_t hash[32])
{
    uint64_t h;
    memcpy(&h, hash, sizeof(h)); /* a keyed hash: its bits are already uniform */
    return (size_t)(h % AUTH_SLOTS);
}

bool auth_insert(struct auth_table *t, const uint8_t hash[32], const struct mopay_principal *p, bool revoked)
{
    pthread_rwlock_wrlock(&t->lock);
    bool ok = false;
    if (t->count < MOPAY_ADMIN_KEYS_MAX) {
        size_t i = slot_of(hash);
        while (t->entries[i].used && memcmp(t->entries[i].hash, hash, 32) != 0)
            i = (i + 1) % AUTH_SLOTS;
        if (!t->entries[i].used) {
            struct auth_entry *e = &t->entries[i];
            memcpy(e->hash, hash, 32);
            e->principal = *p;
            e->revoked = revoked;
            e->used = true;
            t->count++;
            ok = true;
        }
    }
    pthread_rwlock_unlock(&t->lock);
    return ok;
}

/* The live entry with this id, or NULL; the caller holds the lock. */
static struct auth_entry *auth_find_live(struct auth_table *t, const char *id)
{
    for (size_t i = 0; i < AUTH_SLOTS; i++) {
        struct auth_entry *e = &t->entries[i];
        if (e->used && !e->revoked && strcmp(e->principal.id, id) == 0)
            return e;
    }
    return NULL;
}

bool auth_is_live(struct auth_table *t, const char *id)
{
    pthread_rwlock_rdlock(&t->lock);
    bool live = auth_find_live(t, id) != NULL;
    pthread_rwlock_unlock(&t->lock);
    return live;
}

bool auth_revoke(struct auth_table *t, const char *id)
{
    pthread_rwlock_wrlock(&t->lock);
    struct auth_entry *e = auth_find_live(t, id);
    if (e != NULL) {
        e->revoked = true;
    }
    pthread_rwlock_unlock(&t->lock);
    return e != NULL;
}

size_t auth_live_count(struct auth_table *t, enum mopay_principal_kind kind)
{
    size_t n = 0;
    pthread_rwlock_rdlock(&t->lock);
    for (size_t i = 0; i < AUTH_SLOTS; i++)
        n += t->entries[i].used && !t->entries[i].revoked && t->entries[i].principal.kind == kind;
    pthread_rwlock_unlock(&t->lock);
    return n;
}

bool api_authenticate(void *ctx, const char *token, size_t len, struct mopay_principal *out)
{
    struct mopay_api *api = ctx;
    uint8_t hash[32];
    mopay_keys_hash_secret(api->keys, token, len, hash);
    if (len > 3 && memcmp(token, "st_", 3) == 0) {
        struct mopay_id customer;
        if (!mopay_wallet_session_find(api->wallet, hash, mopay_clock_now_ns(), &customer))
            return false;
        out->kind = MOPAY_PRINCIPAL_CUSTOMER;
        mopay_id_format(MOPAY_ID_CUSTOMER, &customer, out->id);
        return true;
    }
    if (len > 3 && memcmp(token, "sk_", 3) == 0) {
        struct mopay_id merchant;
        if (!mopay_merchant_key_find(api->merchant, hash, &merchant))
            return false;
        out->kind = MOPAY_PRINCIPAL_MERCHANT;
        mopay_id_format(MOPAY_ID_MERCHANT, &merchant, out->id);
        return true;
    }
    bool found = false;
    struct auth_table *t = &api->auth;
    pthread_rwlock_rdlock(&t->lock);
    /* probe until an empty slot; the table is never full (count <= half the slots) */
    for (size_t i = slot_of(hash); t->entries[i].used; i = (i + 1) % AUTH_SLOTS) {
        if (memcmp(t->entries[i].hash, hash, 32) == 0) {
            found = !t->entries[i].revoked;
            if (found)
                *out = t->entries[i].principal;
            break;
        }
    }
    pthread_rwlock_unlock(&t->lock);
    return found;
}
