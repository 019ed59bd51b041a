/* Customers, devices, wallets, funding sources, movements and sessions in the journal: their
 * tables, and how replay puts them back, with the checks the JSON loaders (load.c) make.
 *
 * Secrets stay as the JSON records kept them: a device's payment-code secret is sealed for its
 * row ("device/<id>/code_secret") as its image is encoded and opened as it is decoded; a source's
 * number is sealed in memory already, and its sealed bytes are written; the identity document
 * number is sealed base64 text; the PIN is a hash, the session token a keyed hash. No image holds
 * a secret in the clear. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/paycode.h"

static void *ref_customer(void *state, const struct mopay_id *id)
{
    return mopay_wallet_customer(state, id);
}

static void *ref_device(void *state, const struct mopay_id *id)
{
    return mopay_wallet_device(state, id);
}

static void *ref_wallet(void *state, const struct mopay_id *id)
{
    return mopay_wallet_get(state, id);
}

static void *ref_source(void *state, const struct mopay_id *id)
{
    return mopay_wallet_source(state, id);
}

_Static_assert(offsetof(struct mopay_customer, id) == 0 && offsetof(struct mopay_device, id) == 0 &&
                   offsetof(struct mopay_wallet, id) == 0 && offsetof(struct mopay_funding_source, id) == 0,
               "a record a REF field names begins with its id");

/* Refuses an image, naming its record: "<what> <id>: <reason>". */
static enum mopay_err refuse(char *why, size_t why_cap, enum mopay_id_kind kind, const struct mopay_id *id,
                             const char *reason)
{
    char what[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(kind, id, what);
    return mopay_codec_refuse(why, why_cap, what, reason);
}

/* --- customers --- */

/* The identity document number opens under the secret seal as this customer's (a number copied
 * from another row does not), sealed as this code seals: bound to its row. */
static bool document_opens(const struct mopay_wallet_state *w, const struct mopay_customer *c)
{
    if (c->kyc_document_sealed[0] == '\0')
        return true;
    char id[MOPAY_ID_TEXT_BYTES], ad[MOPAY_SEAL_AD_BYTES], plain[MOPAY_SEALED_PLAIN_MAX];
    uint8_t sealed[sizeof(c->kyc_document_sealed)];
    size_t sealed_len = 0, plain_len = 0;
    bool legacy = true;
    mopay_id_format(MOPAY_ID_CUSTOMER, &c->id, id);
    mopay_seal_ad(ad, "customer", id, "kyc_document");
    bool ok = sodium_base642bin(sealed, sizeof(sealed), c->kyc_document_sealed, strlen(c->kyc_document_sealed), NULL,
                                &sealed_len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
              sealed_len > MOPAY_SEAL_AD_OVERHEAD && sealed_len - MOPAY_SEAL_OVERHEAD <= sizeof(plain) &&
              mopay_keys_open_ad(w->options.keys->secret_seal, ad, sealed, sealed_len, plain, &plain_len, &legacy) &&
              !legacy;
    sodium_memzero(plain, sizeof(plain));
    return ok;
}

#define C struct mopay_customer
static const struct mopay_codec_field customer_fields[] = {
    MOPAY_CODEC_ID_FIELD(C, id),
    MOPAY_CODEC_TEXT_FIELD(C, phone),
    MOPAY_CODEC_TEXT_FIELD(C, name),
    MOPAY_CODEC_TEXT_FIELD(C, country),
    MOPAY_CODEC_TEXT_FIELD(C, pin_hash),
    MOPAY_CODEC_INT_FIELD(C, kyc_tier),
    MOPAY_CODEC_TEXT_FIELD(C, kyc_document_type),
    MOPAY_CODEC_TEXT_FIELD(C, kyc_document_last4),
    MOPAY_CODEC_TEXT_FIELD(C, kyc_document_sealed),
    MOPAY_CODEC_BOOL_FIELD(C, frozen),
    MOPAY_CODEC_INT_FIELD(C, failed_pins),
    MOPAY_CODEC_INT_FIELD(C, locked_until_ns),
    MOPAY_CODEC_UINT_FIELD(C, trust.bills_on_time),
    MOPAY_CODEC_UINT_FIELD(C, trust.bills_late),
    MOPAY_CODEC_UINT_FIELD(C, trust.refunds_received),
    MOPAY_CODEC_UINT_FIELD(C, trust.short_of_funds),
    MOPAY_CODEC_UINT_FIELD(C, trust.fraud_flags),
    MOPAY_CODEC_INT_FIELD(C, created_at_ns),
};
#undef C
_Static_assert(sizeof(struct mopay_trust_inputs) == 5 * sizeof(uint32_t), "customer_fields lists every trust input");

/* A customer's phone keys the phones index and its fingerprint: no change writes another, so an
 * image that does is refused rather than indexed twice. */
static enum mopay_err customer_apply(void *state, const void *image, char *why, size_t why_cap)
{
    struct mopay_wallet_state *w = state;
    const struct mopay_customer *in = image;
    if (in->kyc_tier < 0 || in->kyc_tier >= MOPAY_WALLET_TIERS || in->failed_pins < 0)
        return refuse(why, why_cap, MOPAY_ID_CUSTOMER, &in->id, "malformed");
    struct mopay_customer *c = mopay_wallet_customer(w, &in->id);
    if (c != NULL ? strcmp(c->phone, in->phone) != 0 : mopay_wallet_customer_by_phone(w, in->phone) != NULL)
        return refuse(why, why_cap, MOPAY_ID_CUSTOMER, &in->id, "its phone number changed, or another customer has it");
    if ((c == NULL || strcmp(c->kyc_document_sealed, in->kyc_document_sealed) != 0) && !document_opens(w, in))
        return refuse(why, why_cap, MOPAY_ID_CUSTOMER, &in->id,
                      "its identity document number does not open as this customer's (sealed for another row, or "
                      "under another master key)");
    if (c != NULL) {
        mopay_codec_copy(&mopay_wallet_customer_kind, c, in);
        return MOPAY_OK;
    }
    if ((c = malloc(sizeof(*c))) == NULL)
        return refuse(why, why_cap, MOPAY_ID_CUSTOMER, &in->id, "out of memory");
    memcpy(c, in, sizeof(*c)); /* its devices, wallets and sources follow in their own images */
    if (!state_customer_add(w, c)) {
        free(c);
        return refuse(why, why_cap, MOPAY_ID_CUSTOMER, &in->id, "out of memory");
    }
    return MOPAY_OK;
}

static void customer_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    mopay_index_each(&((struct mopay_wallet_state *)state)->customers, fn, ctx);
}

const struct mopay_record_kind mopay_wallet_customer_kind = {
    .name = "customer",
    .tag = MOPAY_RECORD_CUSTOMER,
    .version = 1,
    .size = sizeof(struct mopay_customer),
    .fields = customer_fields,
    .field_count = sizeof(customer_fields) / sizeof(customer_fields[0]),
    .apply = customer_apply,
    .each = customer_each,
};

/* --- devices --- */

#define DEVICE_SECRET_SEALED_BYTES (MOPAY_DEVICE_SECRET_BYTES + MOPAY_SEAL_AD_OVERHEAD)

static void device_secret_ad(const struct mopay_device *d, char ad[MOPAY_SEAL_AD_BYTES])
{
    char id[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_DEVICE, &d->id, id);
    mopay_seal_ad(ad, "device", id, "code_secret");
}

/* Seals the secret for this device's row straight into the image: no copy of it elsewhere. */
static size_t device_secret_encode(void *state, const void *record, uint8_t *out, size_t cap)
{
    const struct mopay_wallet_state *w = state;
    const struct mopay_device *d = record;
    char ad[MOPAY_SEAL_AD_BYTES];
    MOPAY_ASSERT(cap >= DEVICE_SECRET_SEALED_BYTES);
    device_secret_ad(d, ad);
    mopay_keys_seal_ad(w->options.keys->secret_seal, ad, d->code_secret, sizeof(d->code_secret), out);
    return DEVICE_SECRET_SEALED_BYTES;
}

/* Opens only as this device's (its id is decoded before), under this master key, and only as
 * encode seals: bound to its row. */
static bool device_secret_decode(void *state, void *record, const uint8_t *in, size_t len)
{
    const struct mopay_wallet_state *w = state;
    struct mopay_device *d = record;
    uint8_t plain[DEVICE_SECRET_SEALED_BYTES - MOPAY_SEAL_OVERHEAD]; /* what a legacy attempt may write */
    char ad[MOPAY_SEAL_AD_BYTES];
    size_t plain_len = 0;
    bool legacy = true;
    if (len != DEVICE_SECRET_SEALED_BYTES)
        return false;
    device_secret_ad(d, ad);
    bool ok = mopay_keys_open_ad(w->options.keys->secret_seal, ad, in, len, plain, &plain_len, &legacy) && !legacy &&
              plain_len == sizeof(d->code_secret);
    if (ok)
        memcpy(d->code_secret, plain, sizeof(d->code_secret));
    sodium_memzero(plain, sizeof(plain));
    return ok;
}

static const struct mopay_codec_custom device_secret_codec = {device_secret_encode, device_secret_decode,
                                                              DEVICE_SECRET_SEALED_BYTES};

#define D struct mopay_device
static const struct mopay_codec_field device_fields[] = {
    MOPAY_CODEC_ID_FIELD(D, id),
    MOPAY_CODEC_REF_FIELD(D, customer, ref_customer),
    MOPAY_CODEC_TEXT_FIELD(D, name),
    MOPAY_CODEC_BYTES_FIELD(D, public_key),
    MOPAY_CODEC_CUSTOM_FIELD(D, code_secret, &device_secret_codec),
    MOPAY_CODEC_INT_FIELD(D, created_at_ns),
    MOPAY_CODEC_INT_FIELD(D, revoked_at_ns),
    MOPAY_CODEC_INT_FIELD(D, last_signed_ns),
    MOPAY_CODEC_UINT_FIELD(D, code_index),
    MOPAY_CODEC_INT_FIELD(D, code_last_step),
};
#undef D

/* A device's customer and payment-code index key its links (the customer's devices, the codes
 * index) and no change writes others: an image that does is refused. The revoked flag sessions
 * read follows revoked_at_ns. */
static enum mopay_err device_apply_image(struct mopay_wallet_state *w, const struct mopay_device *in, char *why,
                                         size_t why_cap)
{
    if (in->customer == NULL || in->code_index == 0 || in->code_index > MOPAY_PAYCODE_DEVICE_INDEX_MAX)
        return refuse(why, why_cap, MOPAY_ID_DEVICE, &in->id, "malformed, or its customer is missing");
    struct mopay_device *d = mopay_wallet_device(w, &in->id);
    if (d != NULL) {
        if (d->customer != in->customer || d->code_index != in->code_index)
            return refuse(why, why_cap, MOPAY_ID_DEVICE, &in->id, "its customer or payment-code index changed");
        mopay_codec_copy(&mopay_wallet_device_kind, d, in);
        atomic_store(&d->revoked, d->revoked_at_ns != 0);
        return MOPAY_OK;
    }
    struct mopay_customer *c = in->customer;
    if (c->device_count >= sizeof(c->devices) / sizeof(c->devices[0]) ||
        mopay_wallet_device_by_code(w, in->code_index) != NULL)
        return refuse(why, why_cap, MOPAY_ID_DEVICE, &in->id,
                      "its customer has the most devices, or another device has its payment-code index");
    if ((d = malloc(sizeof(*d))) == NULL)
        return refuse(why, why_cap, MOPAY_ID_DEVICE, &in->id, "out of memory");
    memcpy(d, in, sizeof(*d));
    atomic_init(&d->revoked, d->revoked_at_ns != 0);
    if (!state_device_add(w, d)) {
        sodium_memzero(d->code_secret, sizeof(d->code_secret));
        free(d);
        return refuse(why, why_cap, MOPAY_ID_DEVICE, &in->id, "out of memory");
    }
    return MOPAY_OK;
}

static enum mopay_err device_apply(void *state, const void *image, char *why, size_t why_cap)
{
    enum mopay_err err = device_apply_image(state, image, why, why_cap);
    /* the decoded image is the journal's scratch, reused for the next one: its copy of the
     * secret does not stay there */
    sodium_memzero(((struct mopay_device *)(uintptr_t)image)->code_secret, MOPAY_DEVICE_SECRET_BYTES);
    return err;
}

static void device_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    mopay_index_each(&((struct mopay_wallet_state *)state)->devices, fn, ctx);
}

const struct mopay_record_kind mopay_wallet_device_kind = {
    .name = "device",
    .tag = MOPAY_RECORD_DEVICE,
    .version = 1,
    .size = sizeof(struct mopay_device),
    .fields = device_fields,
    .field_count = sizeof(device_fields) / sizeof(device_fields[0]),
    .apply = device_apply,
    .each = device_each,
};

/* --- wallets --- */

#define W struct mopay_wallet
static const struct mopay_codec_field wallet_fields[] = {
    MOPAY_CODEC_ID_FIELD(W, id),
    MOPAY_CODEC_REF_FIELD(W, customer, ref_customer),
    MOPAY_CODEC_CURRENCY_FIELD(W, currency),
    MOPAY_CODEC_INT_FIELD(W, created_at_ns),
    MOPAY_CODEC_INT_FIELD(W, outflow_day),
    MOPAY_CODEC_INT_FIELD(W, outflow_minor),
};
#undef W

/* The image of every payment's wallet (its outflow of the day): an existing wallet is one lookup
 * and a copy. A new one's ledger account was opened before its image was put. */
static enum mopay_err wallet_apply(void *state, const void *image, char *why, size_t why_cap)
{
    struct mopay_wallet_state *w = state;
    const struct mopay_wallet *in = image;
    if (in->customer == NULL || in->currency == NULL || in->outflow_minor < 0)
        return refuse(why, why_cap, MOPAY_ID_WALLET, &in->id, "malformed, or its customer is missing");
    struct mopay_wallet *wallet = mopay_wallet_get(w, &in->id);
    if (wallet != NULL) {
        if (wallet->customer != in->customer || wallet->currency != in->currency)
            return refuse(why, why_cap, MOPAY_ID_WALLET, &in->id, "its customer or currency changed");
        mopay_codec_copy(&mopay_wallet_wallet_kind, wallet, in);
        return MOPAY_OK;
    }
    struct mopay_customer *c = in->customer;
    if (c->wallet_count >= MOPAY_WALLETS_PER_CUSTOMER_MAX || mopay_wallet_of(c, in->currency) != NULL ||
        mopay_ledger_account_get(mopay_ledger_service_ledger(w->options.ledger), &in->id) == NULL)
        return refuse(why, why_cap, MOPAY_ID_WALLET, &in->id,
                      "its customer has the most wallets or one in its currency, or its ledger account is missing");
    if ((wallet = malloc(sizeof(*wallet))) == NULL)
        return refuse(why, why_cap, MOPAY_ID_WALLET, &in->id, "out of memory");
    memcpy(wallet, in, sizeof(*wallet));
    if (!state_wallet_add(w, wallet)) {
        free(wallet);
        return refuse(why, why_cap, MOPAY_ID_WALLET, &in->id, "out of memory");
    }
    return MOPAY_OK;
}

static void wallet_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    mopay_index_each(&((struct mopay_wallet_state *)state)->wallets, fn, ctx);
}

const struct mopay_record_kind mopay_wallet_wallet_kind = {
    .name = "wallet",
    .tag = MOPAY_RECORD_WALLET,
    .version = 1,
    .size = sizeof(struct mopay_wallet),
    .fields = wallet_fields,
    .field_count = sizeof(wallet_fields) / sizeof(wallet_fields[0]),
    .apply = wallet_apply,
    .each = wallet_each,
};

/* --- funding sources --- */

#define SOURCE_SEALED_MAX sizeof(((struct mopay_funding_source *)0)->sealed_number)

/* The number sealed for this source as it is in memory: sealed_len bytes. */
static size_t source_number_encode(void *state, const void *record, uint8_t *out, size_t cap)
{
    (void)state;
    const struct mopay_funding_source *s = record;
    MOPAY_ASSERT(s->sealed_len > MOPAY_SEAL_AD_OVERHEAD && s->sealed_len <= SOURCE_SEALED_MAX && s->sealed_len <= cap);
    memcpy(out, s->sealed_number, s->sealed_len);
    return s->sealed_len;
}

/* The sealed bytes and their length; they must open under this master key as this source's
 * (checked now, not at the first top-up), sealed bound to its row. */
static bool source_number_decode(void *state, void *record, const uint8_t *in, size_t len)
{
    const struct mopay_wallet_state *w = state;
    struct mopay_funding_source *s = record;
    char sid[MOPAY_ID_TEXT_BYTES], ad[MOPAY_SEAL_AD_BYTES], plain[SOURCE_SEALED_MAX];
    size_t plain_len = 0;
    bool legacy = true;
    if (len <= MOPAY_SEAL_AD_OVERHEAD || len > SOURCE_SEALED_MAX)
        return false;
    mopay_id_format(MOPAY_ID_FUNDING_SOURCE, &s->id, sid);
    mopay_seal_ad(ad, "source", sid, "number");
    bool ok = mopay_keys_open_ad(w->options.keys->card_seal, ad, in, len, plain, &plain_len, &legacy) && !legacy;
    sodium_memzero(plain, sizeof(plain));
    if (ok) {
        memcpy(s->sealed_number, in, len);
        s->sealed_len = len;
    }
    return ok;
}

static const struct mopay_codec_custom source_number_codec = {source_number_encode, source_number_decode,
                                                              SOURCE_SEALED_MAX};

#define S struct mopay_funding_source
static const struct mopay_codec_field source_fields[] = {
    MOPAY_CODEC_ID_FIELD(S, id),
    MOPAY_CODEC_REF_FIELD(S, customer, ref_customer),
    MOPAY_CODEC_INT_FIELD(S, type),
    MOPAY_CODEC_INT_FIELD(S, brand),
    MOPAY_CODEC_INT_FIELD(S, exp_month),
    MOPAY_CODEC_INT_FIELD(S, exp_year),
    MOPAY_CODEC_TEXT_FIELD(S, bank_code),
    MOPAY_CODEC_BOOL_FIELD(S, iban),
    MOPAY_CODEC_TEXT_FIELD(S, last4),
    MOPAY_CODEC_TEXT_FIELD(S, holder),
    MOPAY_CODEC_BOOL_FIELD(S, primary),
    MOPAY_CODEC_BOOL_FIELD(S, backup),
    MOPAY_CODEC_BOOL_FIELD(S, lost),
    MOPAY_CODEC_CUSTOM_FIELD(S, sealed_number, &source_number_codec), /* and sealed_len */
    MOPAY_CODEC_BYTES_FIELD(S, fingerprint),
    MOPAY_CODEC_INT_FIELD(S, created_at_ns),
};
#undef S

static enum mopay_err source_apply(void *state, const void *image, char *why, size_t why_cap)
{
    struct mopay_wallet_state *w = state;
    const struct mopay_funding_source *in = image;
    if (in->customer == NULL || (in->type != MOPAY_SOURCE_CARD && in->type != MOPAY_SOURCE_BANK_ACCOUNT) ||
        (int)in->brand < MOPAY_CARD_VISA || (int)in->brand > MOPAY_CARD_JCB || in->sealed_len == 0)
        return refuse(why, why_cap, MOPAY_ID_FUNDING_SOURCE, &in->id, "malformed, or its customer is missing");
    struct mopay_funding_source *s = mopay_wallet_source(w, &in->id);
    if (s != NULL) {
        if (s->customer != in->customer)
            return refuse(why, why_cap, MOPAY_ID_FUNDING_SOURCE, &in->id, "its customer changed");
        mopay_codec_copy(&mopay_wallet_source_kind, s, in);
        s->sealed_len = in->sealed_len; /* set with sealed_number, beside the table */
        return MOPAY_OK;
    }
    if (in->customer->source_count >= MOPAY_SOURCES_PER_CUSTOMER_MAX)
        return refuse(why, why_cap, MOPAY_ID_FUNDING_SOURCE, &in->id, "its customer has the most sources");
    if ((s = malloc(sizeof(*s))) == NULL)
        return refuse(why, why_cap, MOPAY_ID_FUNDING_SOURCE, &in->id, "out of memory");
    memcpy(s, in, sizeof(*s));
    if (!state_source_add(w, s)) {
        free(s);
        return refuse(why, why_cap, MOPAY_ID_FUNDING_SOURCE, &in->id, "out of memory");
    }
    return MOPAY_OK;
}

static void source_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    mopay_index_each(&((struct mopay_wallet_state *)state)->sources, fn, ctx);
}

const struct mopay_record_kind mopay_wallet_source_kind = {
    .name = "source",
    .tag = MOPAY_RECORD_SOURCE,
    .version = 1,
    .size = sizeof(struct mopay_funding_source),
    .fields = source_fields,
    .field_count = sizeof(source_fields) / sizeof(source_fields[0]),
    .apply = source_apply,
    .each = source_each,
};

/* --- movements --- */

#define M struct mopay_movement
static const struct mopay_codec_field movement_fields[] = {
    MOPAY_CODEC_ID_FIELD(M, id),
    MOPAY_CODEC_INT_FIELD(M, kind),
    MOPAY_CODEC_REF_FIELD(M, wallet, ref_wallet),
    MOPAY_CODEC_REF_FIELD(M, source, ref_source),
    MOPAY_CODEC_INT_FIELD(M, amount_minor),
    MOPAY_CODEC_INT_FIELD(M, status),
    MOPAY_CODEC_TEXT_FIELD(M, decline_code),
    MOPAY_CODEC_TEXT_FIELD(M, network_reference),
    MOPAY_CODEC_INT_FIELD(M, created_at_ns),
    MOPAY_CODEC_INT_FIELD(M, resolved_at_ns),
    MOPAY_CODEC_INT_FIELD(M, expires_at_ns),
};
#undef M

/* A movement is on the pending list while it is pending: an image that resolves it takes it off;
 * none puts a resolved one back. */
static enum mopay_err movement_apply(void *state, const void *image, char *why, size_t why_cap)
{
    struct mopay_wallet_state *w = state;
    const struct mopay_movement *in = image;
    enum mopay_id_kind id_kind = in->kind == MOPAY_MOVEMENT_TOPUP ? MOPAY_ID_TOPUP : MOPAY_ID_WITHDRAWAL;
    if ((in->kind != MOPAY_MOVEMENT_TOPUP && in->kind != MOPAY_MOVEMENT_WITHDRAWAL) || in->wallet == NULL ||
        in->source == NULL || (int)in->status < MOPAY_MOVEMENT_PENDING || (int)in->status > MOPAY_MOVEMENT_EXPIRED ||
        in->amount_minor <= 0)
        return refuse(why, why_cap, id_kind, &in->id, "malformed, or its wallet or source is missing");
    struct mopay_movement *m = mopay_wallet_movement(w, &in->id);
    if (m != NULL) {
        bool was_pending = m->status == MOPAY_MOVEMENT_PENDING;
        if (m->kind != in->kind || m->wallet != in->wallet || m->source != in->source ||
            (!was_pending && in->status == MOPAY_MOVEMENT_PENDING))
            return refuse(why, why_cap, id_kind, &in->id, "its kind, wallet or source changed, or it is pending again");
        mopay_codec_copy(&mopay_wallet_movement_kind, m, in);
        if (was_pending && m->status != MOPAY_MOVEMENT_PENDING)
            state_pending_unlink(w, m);
        return MOPAY_OK;
    }
    if ((m = malloc(sizeof(*m))) == NULL)
        return refuse(why, why_cap, id_kind, &in->id, "out of memory");
    memcpy(m, in, sizeof(*m));
    if (!state_movement_add(w, m)) {
        free(m);
        return refuse(why, why_cap, id_kind, &in->id, "out of memory");
    }
    return MOPAY_OK;
}

static void movement_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    mopay_index_each(&((struct mopay_wallet_state *)state)->movements, fn, ctx);
}

const struct mopay_record_kind mopay_wallet_movement_kind = {
    .name = "movement",
    .tag = MOPAY_RECORD_MOVEMENT,
    .version = 1,
    .size = sizeof(struct mopay_movement),
    .fields = movement_fields,
    .field_count = sizeof(movement_fields) / sizeof(movement_fields[0]),
    .apply = movement_apply,
    .each = movement_each,
};

/* --- sessions --- */

#define N struct mopay_session
static const struct mopay_codec_field session_fields[] = {
    MOPAY_CODEC_BYTES_FIELD(N, hash),
    MOPAY_CODEC_REF_FIELD(N, customer, ref_customer),
    MOPAY_CODEC_REF_FIELD(N, device, ref_device),
    MOPAY_CODEC_INT_FIELD(N, created_at_ns),
    MOPAY_CODEC_INT_FIELD(N, expires_at_ns),
};
#undef N

/* Sessions are named by their token's hash; the id of a message is its first half. */
static enum mopay_err session_refuse(char *why, size_t why_cap, const struct mopay_session *s, const char *reason)
{
    struct mopay_id id;
    memcpy(id.bytes, s->hash, sizeof(id.bytes));
    return refuse(why, why_cap, MOPAY_ID_SESSION, &id, reason);
}

static struct mopay_session *session_find(struct mopay_wallet_state *w, const uint8_t hash[32])
{
    struct mopay_session *s = mopay_index_get(&w->sessions, hash);
    return s != NULL && memcmp(s->hash, hash, sizeof(s->hash)) == 0 ? s : NULL;
}

static enum mopay_err session_apply(void *state, const void *image, char *why, size_t why_cap)
{
    struct mopay_wallet_state *w = state;
    const struct mopay_session *in = image;
    if (in->customer == NULL || in->device == NULL || in->device->customer != in->customer)
        return session_refuse(why, why_cap, in, "malformed, or its customer or device is missing");
    struct mopay_session *s = session_find(w, in->hash);
    if (s != NULL) {
        mopay_codec_copy(&mopay_wallet_session_kind, s, in);
        return MOPAY_OK;
    }
    if ((s = malloc(sizeof(*s))) == NULL)
        return session_refuse(why, why_cap, in, "out of memory");
    memcpy(s, in, sizeof(*s));
    if (!state_session_add(w, s)) {
        free(s);
        return session_refuse(why, why_cap, in, "out of memory");
    }
    return MOPAY_OK;
}

static enum mopay_err session_remove(void *state, const void *image, char *why, size_t why_cap)
{
    struct mopay_wallet_state *w = state;
    struct mopay_session *s = session_find(w, ((const struct mopay_session *)image)->hash);
    if (s == NULL)
        return session_refuse(why, why_cap, image, "removed, but not there");
    state_session_remove(w, s);
    return MOPAY_OK;
}

/* Oldest first, so that a log rebuilt from them lists the sessions in the same order. */
static void session_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    for (const struct mopay_session *s = ((struct mopay_wallet_state *)state)->sessions_oldest; s != NULL; s = s->next)
        if (!fn(ctx, s))
            return;
}

const struct mopay_record_kind mopay_wallet_session_kind = {
    .name = "session",
    .tag = MOPAY_RECORD_SESSION,
    .version = 1,
    .size = sizeof(struct mopay_session),
    .fields = session_fields,
    .field_count = sizeof(session_fields) / sizeof(session_fields[0]),
    .apply = session_apply,
    .remove = session_remove,
    .each = session_each,
};

/* --- registering, and the record of a change --- */

void wallet_records_register(struct mopay_wallet_state *w)
{
    /* in the order their images may name one another: an upgrade writes them in this order */
    static const struct mopay_record_kind *const kinds[] = {
        &mopay_wallet_customer_kind, &mopay_wallet_device_kind,   &mopay_wallet_wallet_kind,
        &mopay_wallet_source_kind,   &mopay_wallet_movement_kind, &mopay_wallet_session_kind,
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        mopay_journal_register(w->options.journal, kinds[i], w);
}

enum mopay_err record_customer(struct mopay_wallet_state *w, int64_t now_ns, const struct mopay_customer *c)
{
    return mopay_journal_put(w->options.journal, &mopay_wallet_customer_kind, c, now_ns);
}

enum mopay_err record_device(struct mopay_wallet_state *w, int64_t now_ns, const struct mopay_device *d)
{
    return mopay_journal_put(w->options.journal, &mopay_wallet_device_kind, d, now_ns);
}

enum mopay_err record_wallet(struct mopay_wallet_state *w, int64_t now_ns, const struct mopay_wallet *wallet)
{
    return mopay_journal_put(w->options.journal, &mopay_wallet_wallet_kind, wallet, now_ns);
}

enum mopay_err record_source(struct mopay_wallet_state *w, int64_t now_ns, const struct mopay_funding_source *s)
{
    return mopay_journal_put(w->options.journal, &mopay_wallet_source_kind, s, now_ns);
}

enum mopay_err record_movement(struct mopay_wallet_state *w, int64_t now_ns, const struct mopay_movement *m)
{
    return mopay_journal_put(w->options.journal, &mopay_wallet_movement_kind, m, now_ns);
}

enum mopay_err record_session(struct mopay_wallet_state *w, int64_t now_ns, const struct mopay_session *s)
{
    return mopay_journal_put(w->options.journal, &mopay_wallet_session_kind, s, now_ns);
}

enum mopay_err record_session_delete(struct mopay_wallet_state *w, int64_t now_ns, const struct mopay_session *s)
{
    return mopay_journal_remove(w->options.journal, &mopay_wallet_session_kind, s, now_ns);
}
