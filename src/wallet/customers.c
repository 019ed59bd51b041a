/* Customers, devices and sessions. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/paycode.h"

struct mopay_customer *mopay_wallet_customer(struct mopay_wallet_state *w, const struct mopay_id *id)
{
    return mopay_index_get(&w->customers, id->bytes);
}

struct mopay_customer *mopay_wallet_customer_by_phone(struct mopay_wallet_state *w, const char *phone)
{
    uint8_t key[16];
    mopay_index_key_of_text(phone, strlen(phone), key);
    struct mopay_customer *c = mopay_index_get(&w->phones, key);
    return c != NULL && strcmp(c->phone, phone) == 0 ? c : NULL;
}

struct mopay_device *mopay_wallet_device(struct mopay_wallet_state *w, const struct mopay_id *id)
{
    return mopay_index_get(&w->devices, id->bytes);
}

static size_t live_devices(const struct mopay_customer *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->device_count; i++)
        n += c->devices[i]->revoked_at_ns == 0;
    return n;
}

/* A payment-code index no device has, drawn at random so that indexes reveal neither sign-up
 * order nor how many customers there are; 0 when 64 draws all hit taken ones (the table is then
 * far fuller than mopay is sized for). */
static uint32_t code_index_draw(struct mopay_wallet_state *w)
{
    for (int i = 0; i < 64; i++) {
        uint32_t index = 1 + randombytes_uniform(MOPAY_PAYCODE_DEVICE_INDEX_MAX);
        if (mopay_wallet_device_by_code(w, index) == NULL)
            return index;
    }
    return 0;
}

struct mopay_device *mopay_wallet_device_by_code(struct mopay_wallet_state *w, uint32_t code_index)
{
    uint8_t key[16];
    code_key(code_index, key);
    return mopay_index_get(&w->codes, key);
}

enum mopay_err mopay_wallet_code_used(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                      struct mopay_device *d, int64_t step)
{
    (void)store; /* the images go to the journal */
    MOPAY_ASSERT(step > d->code_last_step);
    d->code_last_step = step;
    return record_device(w, now_ns, d);
}

static struct mopay_device *device_make(struct mopay_wallet_state *w, struct mopay_customer *c, int64_t now_ns,
                                        const uint8_t public_key[32], const char *name,
                                        const uint8_t secret[MOPAY_DEVICE_SECRET_BYTES])
{
    uint32_t code_index = code_index_draw(w);
    struct mopay_device *d = code_index != 0 ? calloc(1, sizeof(*d)) : NULL;
    if (d == NULL)
        return NULL;
    d->code_index = code_index;
    mopay_id_new(now_ns, &d->id);
    d->customer = c;
    mopay_text_copy(d->name, sizeof(d->name), name);
    memcpy(d->public_key, public_key, 32);
    memcpy(d->code_secret, secret, MOPAY_DEVICE_SECRET_BYTES);
    d->created_at_ns = now_ns;
    return d;
}

enum mopay_err mopay_wallet_signup(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                   const struct mopay_signup *s, struct mopay_customer **out_customer,
                                   struct mopay_device **out_device)
{
    (void)store; /* the images go to the journal */
    if (mopay_wallet_customer_by_phone(w, s->phone) != NULL)
        return MOPAY_ERR_phone_taken;
    struct mopay_customer *c = calloc(1, sizeof(*c));
    struct mopay_device *d = c != NULL ? device_make(w, c, now_ns, s->public_key, s->device_name, s->code_secret) : NULL;
    if (d == NULL) {
        free(c);
        return MOPAY_ERR_internal;
    }
    mopay_id_new(now_ns, &c->id);
    mopay_text_copy(c->phone, sizeof(c->phone), s->phone);
    mopay_text_copy(c->name, sizeof(c->name), s->name);
    mopay_text_copy(c->country, sizeof(c->country), s->country);
    mopay_text_copy(c->pin_hash, sizeof(c->pin_hash), s->pin_hash);
    c->created_at_ns = now_ns;
    if (!state_customer_add(w, c)) {
        free(c);
        free(d);
        return MOPAY_ERR_internal;
    }
    if (!state_device_add(w, d)) {
        state_customer_remove(w, c);
        free(c);
        free(d);
        return MOPAY_ERR_internal;
    }
    *out_customer = c;
    *out_device = d;
    enum mopay_err err = record_customer(w, now_ns, c);
    return err != MOPAY_OK ? err : record_device(w, now_ns, d);
}

enum mopay_err mopay_wallet_kyc_set(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                    struct mopay_customer *c, int tier, const char *document_type,
                                    const char *document_number)
{
    (void)store; /* the images go to the journal */
    MOPAY_ASSERT(tier >= 0 && tier < MOPAY_WALLET_TIERS);
    size_t len = strlen(document_number);
    MOPAY_ASSERT(len >= 4 && len <= 32 && strlen(document_type) < sizeof(c->kyc_document_type));
    char sealed[MOPAY_SEALED_B64_BYTES], ad[MOPAY_SEAL_AD_BYTES], id[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_CUSTOMER, &c->id, id);
    mopay_seal_ad(ad, "customer", id, "kyc_document");
    mopay_seal_b64(w->options.keys->secret_seal, ad, document_number, len, sealed);
    mopay_text_copy(c->kyc_document_sealed, sizeof(c->kyc_document_sealed), sealed);
    c->kyc_tier = tier;
    mopay_text_copy(c->kyc_document_type, sizeof(c->kyc_document_type), document_type);
    mopay_text_copy(c->kyc_document_last4, sizeof(c->kyc_document_last4), document_number + len - 4);
    return record_customer(w, now_ns, c);
}

enum mopay_err mopay_wallet_freeze(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                   struct mopay_customer *c, bool frozen)
{
    (void)store; /* the images go to the journal */
    c->frozen = frozen;
    return record_customer(w, now_ns, c);
}

enum mopay_err mopay_wallet_device_add(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                       struct mopay_customer *c, const uint8_t public_key[32], const char *name,
                                       const uint8_t code_secret[MOPAY_DEVICE_SECRET_BYTES],
                                       struct mopay_device **out)
{
    (void)store; /* the images go to the journal */
    if (live_devices(c) >= MOPAY_DEVICES_PER_CUSTOMER_MAX ||
        c->device_count >= sizeof(c->devices) / sizeof(c->devices[0]))
        return MOPAY_ERR_devices_max;
    struct mopay_device *d = device_make(w, c, now_ns, public_key, name, code_secret);
    if (d == NULL || !state_device_add(w, d)) {
        free(d);
        return MOPAY_ERR_internal;
    }
    *out = d;
    return record_device(w, now_ns, d);
}

enum mopay_err mopay_wallet_device_revoke(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                          struct mopay_device *d)
{
    (void)store; /* the images go to the journal */
    if (d->revoked_at_ns != 0)
        return MOPAY_ERR_device_revoked;
    d->revoked_at_ns = now_ns;
    /* Sessions check this flag when they authenticate: from here on, none of the device's does. */
    atomic_store(&d->revoked, true);
    sodium_memzero(d->code_secret, sizeof(d->code_secret));
    if (w->options.risk.device_revoked != NULL)
        w->options.risk.device_revoked(w->options.risk.ctx, d->customer, now_ns);
    return record_device(w, now_ns, d);
}

/* --- sessions --- */

enum mopay_err mopay_wallet_session_precheck(const struct mopay_customer *c, const struct mopay_device *d,
                                             int64_t now_ns)
{
    if (d == NULL || d->customer != c)
        return MOPAY_ERR_signature_invalid;
    if (d->revoked_at_ns != 0)
        return MOPAY_ERR_device_revoked;
    if (c->locked_until_ns > now_ns)
        return MOPAY_ERR_customer_locked;
    return MOPAY_OK;
}

/* A wrong PIN: counted, and the fifth in a row locks the customer; the risk engine hears of it. */
static enum mopay_err pin_wrong(struct mopay_wallet_state *w, struct mopay_customer *c, int64_t now_ns)
{
    if (w->options.risk.wrong_pin != NULL)
        w->options.risk.wrong_pin(w->options.risk.ctx, c, now_ns);
    if (++c->failed_pins < MOPAY_PIN_FAILURES_MAX)
        return MOPAY_ERR_pin_incorrect;
    c->failed_pins = 0;
    c->locked_until_ns = now_ns + (int64_t)MOPAY_PIN_LOCK_S * 1000000000;
    return MOPAY_ERR_customer_locked;
}

enum mopay_err mopay_wallet_pin_attempt(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                        struct mopay_customer *c, bool pin_ok, enum mopay_err *out_refusal)
{
    (void)store; /* the images go to the journal */
    if (c->locked_until_ns > now_ns)
        return MOPAY_ERR_customer_locked;
    *out_refusal = MOPAY_OK;
    if (pin_ok) {
        if (c->failed_pins == 0)
            return MOPAY_OK;
        c->failed_pins = 0;
    } else {
        *out_refusal = pin_wrong(w, c, now_ns);
    }
    return record_customer(w, now_ns, c);
}

enum mopay_err mopay_wallet_session_open(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                                         struct mopay_device *d, int64_t signed_ns, bool pin_ok,
                                         const uint8_t token_hash[32], enum mopay_err *out_refusal,
                                         struct mopay_session **out)
{
    (void)store; /* the images go to the journal */
    struct mopay_customer *c = d->customer;
    *out_refusal = MOPAY_OK;
    *out = NULL;
    enum mopay_err err = mopay_wallet_session_precheck(c, d, now_ns);
    if (err != MOPAY_OK)
        return err;
    if (signed_ns <= d->last_signed_ns)
        return MOPAY_ERR_signature_replayed;
    d->last_signed_ns = signed_ns; /* the signature is used up, whatever the PIN */
    if (!pin_ok) {
        *out_refusal = pin_wrong(w, c, now_ns);
    } else {
        struct mopay_session *s = calloc(1, sizeof(*s));
        MOPAY_ASSERT(s != NULL);
        memcpy(s->hash, token_hash, 32);
        s->customer = c;
        s->device = d;
        s->created_at_ns = now_ns;
        s->expires_at_ns = now_ns + w->options.session_ttl_s * 1000000000;
        MOPAY_ASSERT(state_session_add(w, s));
        c->failed_pins = 0;
        *out = s;
        if ((err = record_session(w, now_ns, s)) != MOPAY_OK)
            return err;
    }
    err = record_customer(w, now_ns, c);
    return err != MOPAY_OK ? err : record_device(w, now_ns, d);
}

bool mopay_wallet_session_find(struct mopay_wallet_state *w, const uint8_t token_hash[32], int64_t now_ns,
                               struct mopay_id *out_customer)
{
    pthread_rwlock_rdlock(&w->sessions_lock);
    const struct mopay_session *s = mopay_index_get(&w->sessions, token_hash);
    bool live = s != NULL && sodium_memcmp(s->hash, token_hash, 32) == 0 && now_ns < s->expires_at_ns &&
                !atomic_load(&s->device->revoked);
    if (live)
        *out_customer = s->customer->id;
    pthread_rwlock_unlock(&w->sessions_lock);
    return live;
}

/* Forgets expired sessions and those of revoked devices, in memory and in the journal. */
enum mopay_err sessions_purge(struct mopay_wallet_state *w, int64_t now_ns)
{
    struct mopay_session **link = &w->sessions_oldest, *last = NULL;
    while (*link != NULL) {
        struct mopay_session *s = *link;
        if (now_ns < s->expires_at_ns && s->device->revoked_at_ns == 0) {
            last = s;
            link = &s->next;
            continue;
        }
        enum mopay_err err = record_session_delete(w, now_ns, s);
        if (err != MOPAY_OK)
            return err;
        pthread_rwlock_wrlock(&w->sessions_lock);
        mopay_index_remove(&w->sessions, s->hash);
        *link = s->next;
        pthread_rwlock_unlock(&w->sessions_lock);
        free(s);
    }
    w->sessions_newest = last;
    return MOPAY_OK;
}
