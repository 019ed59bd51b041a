/* The wallet state in memory, and its durable image: one JSON record per object in the store,
 * written in the batch transaction of the change and loaded at start. Secrets in records are
 * sealed (device secrets, document numbers, card and account numbers) or hashed (PINs, session
 * tokens); the master key that opens them never enters the database. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/json.h"
#include "mopay/log.h"

struct mopay_wallet_state *mopay_wallet_new(const struct mopay_wallet_options *options)
{
    MOPAY_ASSERT(options->keys != NULL && options->ledger != NULL && options->connector != NULL);
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

/* --- records --- */

static json_t *hex_json(const uint8_t *bytes, size_t len)
{
    char hex[2 * 64 + 1];
    MOPAY_ASSERT(len <= 64);
    sodium_bin2hex(hex, sizeof(hex), bytes, len);
    return json_string(hex);
}

/* A secret sealed under `key` for its row and field, as base64. */
static json_t *sealed_json(const uint8_t key[32], const char *kind, const char *id, const char *field,
                           const void *plain, size_t len)
{
    char b64[MOPAY_SEALED_B64_BYTES], ad[MOPAY_SEAL_AD_BYTES];
    mopay_seal_ad(ad, kind, id, field);
    mopay_seal_b64(key, ad, plain, len, b64);
    return json_string(b64);
}

static void id_text(enum mopay_id_kind kind, const struct mopay_id *id, char out[MOPAY_ID_TEXT_BYTES])
{
    mopay_id_format(kind, id, out);
}

enum mopay_err record_customer(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                               const struct mopay_customer *c)
{
    (void)w;
    char id[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_CUSTOMER, &c->id, id);
    const struct mopay_trust_inputs *t = &c->trust;
    json_t *trust = json_pack("[I, I, I, I, I]", (json_int_t)t->bills_on_time, (json_int_t)t->bills_late,
                              (json_int_t)t->refunds_received, (json_int_t)t->short_of_funds,
                              (json_int_t)t->fraud_flags);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:b, s:i, s:I, s:I, s:o}", "id", id, "phone",
                          c->phone, "name", c->name, "country", c->country, "pin_hash", c->pin_hash, "kyc_tier",
                          c->kyc_tier, "kyc_document_type", c->kyc_document_type, "kyc_document_last4",
                          c->kyc_document_last4, "kyc_document_sealed", c->kyc_document_sealed, "frozen", c->frozen,
                          "failed_pins", c->failed_pins, "locked_until_ns", (json_int_t)c->locked_until_ns,
                          "created_at_ns", (json_int_t)c->created_at_ns, "trust", trust);
    return mopay_store_record_put_json(store, "customer", id, j, now_ns);
}

enum mopay_err record_device(struct mopay_wallet_state *w, struct mopay_store *store, int64_t now_ns,
                             const struct mopay_device *d)
{
    char id[MOPAY_ID_TEXT_BYTES], customer[MOPAY_ID_TEXT_BYTES];
    id_text(MOPAY_ID_DEVICE, &d->id, id);
    id_text(MOPAY_ID_CUSTOMER, &d->customer->id, customer);
    json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:I}", "id", id, "customer_id", customer,
                          "name", d->name, "public_key", hex_json(d->public_key, 32), "code_secret_sealed",
                          sealed_json(w->options.keys->secret_seal, "device", id, "code_secret", d->code_secret,
                                      sizeof(d->code_secret)),
                          "created_at_ns", (json_int_t)d->created_at_ns, "revoked_at_ns",
                          (json_int_t)d->revoked_at_ns, "last_signed_ns", (json_int_t)d->last_signed_ns,
                          "code_index", (json_int_t)d->code_index, "code_last_step", (json_int_t)d->code_last_step);
    return mopay_store_record_put_json(store, "device", id, j, now_ns);
}

enum mopay_err record_wallet(struct mopay_store *store, int64_t now_ns, const struct mopay_wallet *wallet)
{
    char id[MOPAY_ID_TEXT_BYTES], customer[MOPAY_ID_TEXT_BYTES];
    id_text(MOPAY_ID_WALLET, &wallet->id, id);
    id_text(MOPAY_ID_CUSTOMER, &wallet->customer->id, customer);
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "id", id, "customer_id", customer, "currency",
                          wallet->currency->alpha, "created_at_ns", (json_int_t)wallet->created_at_ns,
                          "outflow_day", (json_int_t)wallet->outflow_day, "outflow_minor",
                          (json_int_t)wallet->outflow_minor);
    return mopay_store_record_put_json(store, "wallet", id, j, now_ns);
}

enum mopay_err record_source(struct mopay_store *store, int64_t now_ns, const struct mopay_funding_source *s)
{
    char id[MOPAY_ID_TEXT_BYTES], customer[MOPAY_ID_TEXT_BYTES];
    char b64[sodium_base64_ENCODED_LEN(sizeof(s->sealed_number), sodium_base64_VARIANT_ORIGINAL)];
    id_text(MOPAY_ID_FUNDING_SOURCE, &s->id, id);
    id_text(MOPAY_ID_CUSTOMER, &s->customer->id, customer);
    sodium_bin2base64(b64, sizeof(b64), s->sealed_number, s->sealed_len, sodium_base64_VARIANT_ORIGINAL);
    json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:b, s:s, s:s, s:b, s:b, s:b, s:s, s:o, s:I}", "id", id,
                          "customer_id", customer, "type", s->type == MOPAY_SOURCE_CARD ? "card" : "bank_account",
                          "brand", (int)s->brand, "exp_month", s->exp_month, "exp_year", s->exp_year, "bank_code",
                          s->bank_code, "iban", s->iban, "last4", s->last4, "holder", s->holder, "primary",
                          s->primary, "backup", s->backup, "lost", s->lost, "number_sealed", b64, "fingerprint",
                          hex_json(s->fingerprint, 16),
                          "created_at_ns", (json_int_t)s->created_at_ns);
    return mopay_store_record_put_json(store, "source", id, j, now_ns);
}

enum mopay_err record_movement(struct mopay_store *store, int64_t now_ns, const struct mopay_movement *m)
{
    char id[MOPAY_ID_TEXT_BYTES], wallet[MOPAY_ID_TEXT_BYTES], source[MOPAY_ID_TEXT_BYTES];
    id_text(m->kind == MOPAY_MOVEMENT_TOPUP ? MOPAY_ID_TOPUP : MOPAY_ID_WITHDRAWAL, &m->id, id);
    id_text(MOPAY_ID_WALLET, &m->wallet->id, wallet);
    id_text(MOPAY_ID_FUNDING_SOURCE, &m->source->id, source);
    json_t *j = json_pack("{s:s, s:i, s:s, s:s, s:I, s:i, s:s, s:s, s:I, s:I, s:I}", "id", id, "kind", (int)m->kind,
                          "wallet_id", wallet, "source_id", source, "amount_minor", (json_int_t)m->amount_minor,
                          "status", (int)m->status, "decline_code", m->decline_code, "network_reference",
                          m->network_reference, "created_at_ns", (json_int_t)m->created_at_ns, "resolved_at_ns",
                          (json_int_t)m->resolved_at_ns, "expires_at_ns", (json_int_t)m->expires_at_ns);
    return mopay_store_record_put_json(store, "movement", id, j, now_ns);
}

static void session_id(const struct mopay_session *s, char out[MOPAY_ID_TEXT_BYTES])
{
    struct mopay_id id;
    memcpy(id.bytes, s->hash, 16);
    mopay_id_format(MOPAY_ID_SESSION, &id, out);
}

enum mopay_err record_session(struct mopay_store *store, int64_t now_ns, const struct mopay_session *s)
{
    char id[MOPAY_ID_TEXT_BYTES], customer[MOPAY_ID_TEXT_BYTES], device[MOPAY_ID_TEXT_BYTES];
    session_id(s, id);
    id_text(MOPAY_ID_CUSTOMER, &s->customer->id, customer);
    id_text(MOPAY_ID_DEVICE, &s->device->id, device);
    json_t *j = json_pack("{s:o, s:s, s:s, s:I, s:I}", "hash", hex_json(s->hash, 32), "customer_id", customer,
                          "device_id", device, "created_at_ns", (json_int_t)s->created_at_ns, "expires_at_ns",
                          (json_int_t)s->expires_at_ns);
    return mopay_store_record_put_json(store, "session", id, j, now_ns);
}

enum mopay_err record_session_delete(struct mopay_store *store, const struct mopay_session *s)
{
    char id[MOPAY_ID_TEXT_BYTES];
    session_id(s, id);
    bool found = false;
    return store->record_delete(store, "session", id, &found);
}

size_t mopay_wallet_customer_count(const struct mopay_wallet_state *w)
{
    return w->customers.count;
}

size_t mopay_wallet_count(const struct mopay_wallet_state *w)
{
    return w->wallets.count;
}
