/* Merchants, orders and bills in the journal: their tables, and how replay puts them back with
 * the checks their JSON records were loaded with (load.c, for databases from before). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"

static void *ref_merchant(void *state, const struct mopay_id *id)
{
    return mopay_merchant_get(state, id);
}

/* --- the CUSTOM field: the webhook secret sealed --- */

#define SECRET_SEALED_BYTES (MOPAY_WEBHOOK_SECRET_BYTES + MOPAY_SEAL_AD_OVERHEAD)

/* The secret is bound to its merchant's row as it was in the JSON record: "merchant/<id>/webhook_secret". */
static void secret_ad(const struct mopay_merchant *x, char ad[MOPAY_SEAL_AD_BYTES])
{
    char id[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_MERCHANT, &x->id, id);
    mopay_seal_ad(ad, "merchant", id, "webhook_secret");
}

static size_t secret_encode(void *state, const void *record, uint8_t *out, size_t cap)
{
    const struct mopay_merchant_state *m = state;
    const struct mopay_merchant *x = record;
    char ad[MOPAY_SEAL_AD_BYTES];
    MOPAY_ASSERT(cap >= SECRET_SEALED_BYTES);
    secret_ad(x, ad);
    mopay_keys_seal_ad(m->options.keys->secret_seal, ad, x->webhook_secret, MOPAY_WEBHOOK_SECRET_BYTES, out);
    return SECRET_SEALED_BYTES;
}

/* Opens only as this merchant's (the id is decoded before it), under this master key, sealed
 * with its row bound: an image is never written with a seal from before seals were bound. */
static bool secret_decode(void *state, void *record, const uint8_t *in, size_t len)
{
    const struct mopay_merchant_state *m = state;
    struct mopay_merchant *x = record;
    char ad[MOPAY_SEAL_AD_BYTES];
    uint8_t plain[SECRET_SEALED_BYTES];
    size_t plain_len = 0;
    bool legacy = false;
    secret_ad(x, ad);
    bool ok = len == SECRET_SEALED_BYTES &&
              mopay_keys_open_ad(m->options.keys->secret_seal, ad, in, len, plain, &plain_len, &legacy) && !legacy &&
              plain_len == MOPAY_WEBHOOK_SECRET_BYTES;
    if (ok)
        memcpy(x->webhook_secret, plain, MOPAY_WEBHOOK_SECRET_BYTES);
    sodium_memzero(plain, sizeof(plain));
    return ok;
}

static const struct mopay_codec_custom secret_codec = {secret_encode, secret_decode, SECRET_SEALED_BYTES};

/* --- merchants --- */

#define M struct mopay_merchant
#define KEY_FIELDS(i)                                                                                              \
    MOPAY_CODEC_BYTES_FIELD(M, keys[i].hash), MOPAY_CODEC_TEXT_FIELD(M, keys[i].last4),                            \
        MOPAY_CODEC_INT_FIELD(M, keys[i].created_at_ns), MOPAY_CODEC_INT_FIELD(M, keys[i].revoked_at_ns)
static const struct mopay_codec_field merchant_fields[] = {
    MOPAY_CODEC_ID_FIELD(M, id),
    MOPAY_CODEC_INT_FIELD(M, kind),
    MOPAY_CODEC_TEXT_FIELD(M, name),
    MOPAY_CODEC_TEXT_FIELD(M, mcc),
    MOPAY_CODEC_TEXT_FIELD(M, country),
    MOPAY_CODEC_TEXT_FIELD(M, city),
    MOPAY_CODEC_CURRENCY_FIELD(M, currency),
    MOPAY_CODEC_INT_FIELD(M, fee_bps),
    MOPAY_CODEC_TEXT_FIELD(M, settlement_account),
    MOPAY_CODEC_TEXT_FIELD(M, webhook_url),
    MOPAY_CODEC_CUSTOM_FIELD(M, webhook_secret, &secret_codec),
    MOPAY_CODEC_BOOL_FIELD(M, webhook_secret_text),
    MOPAY_CODEC_UINT_FIELD(M, key_count),
    KEY_FIELDS(0), KEY_FIELDS(1), KEY_FIELDS(2), KEY_FIELDS(3),
    KEY_FIELDS(4), KEY_FIELDS(5), KEY_FIELDS(6), KEY_FIELDS(7),
    MOPAY_CODEC_INT_FIELD(M, created_at_ns),
};
#undef KEY_FIELDS
#undef M
_Static_assert(MOPAY_MERCHANT_KEYS_MAX == 8, "merchant_fields lists every key slot");
_Static_assert(offsetof(struct mopay_merchant, id) == 0, "a record a REF field names begins with its id");

static enum mopay_err merchant_apply(void *state, const void *image, char *why, size_t why_cap)
{
    struct mopay_merchant_state *m = state;
    const struct mopay_merchant *in = image;
    if (in->currency == NULL || (in->kind != MOPAY_MERCHANT_SHOP && in->kind != MOPAY_MERCHANT_BILLER) ||
        in->fee_bps < 0 || in->fee_bps > MOPAY_FEE_BPS_MAX || in->key_count == 0 ||
        in->key_count > MOPAY_MERCHANT_KEYS_MAX)
        return mopay_codec_refuse(why, why_cap, "merchant", "kind, currency, fee or keys out of range");
    const struct mopay_ledger_account *a =
        mopay_ledger_account_get(mopay_ledger_service_ledger(m->options.ledger), &in->id);
    if (a == NULL || a->currency != in->currency->numeric)
        return mopay_codec_refuse(why, why_cap, "merchant", "its ledger account is missing, or in another currency");
    struct mopay_merchant *x = mopay_merchant_get(m, &in->id);
    if (x != NULL)
        return merchant_replace(m, x, in) ? MOPAY_OK : mopay_codec_refuse(why, why_cap, "merchant", "out of memory");
    if ((x = malloc(sizeof(*x))) == NULL)
        return mopay_codec_refuse(why, why_cap, "merchant", "out of memory");
    memcpy(x, in, sizeof(*x));
    if (!merchant_add(m, x)) {
        sodium_memzero(x->webhook_secret, sizeof(x->webhook_secret));
        free(x);
        return mopay_codec_refuse(why, why_cap, "merchant", "out of memory");
    }
    return MOPAY_OK;
}

static void merchant_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    mopay_index_each(&((struct mopay_merchant_state *)state)->merchants, fn, ctx);
}

const struct mopay_record_kind mopay_merchant_merchant_kind = {
    .name = "merchant",
    .tag = MOPAY_RECORD_MERCHANT,
    .version = 1,
    .size = sizeof(struct mopay_merchant),
    .fields = merchant_fields,
    .field_count = sizeof(merchant_fields) / sizeof(merchant_fields[0]),
    .apply = merchant_apply,
    .each = merchant_each,
};

/* --- orders --- */

#define O struct mopay_order
static const struct mopay_codec_field order_fields[] = {
    MOPAY_CODEC_ID_FIELD(O, id),
    MOPAY_CODEC_REF_FIELD(O, merchant, ref_merchant),
    MOPAY_CODEC_INT_FIELD(O, amount_minor),
    MOPAY_CODEC_TEXT_FIELD(O, reference),
    MOPAY_CODEC_TEXT_FIELD(O, description),
    MOPAY_CODEC_INT_FIELD(O, vat_minor),
    MOPAY_CODEC_BOOL_FIELD(O, tax_free),
    MOPAY_CODEC_INT_FIELD(O, status),
    MOPAY_CODEC_ID_FIELD(O, payment_id),
    MOPAY_CODEC_INT_FIELD(O, created_at_ns),
    MOPAY_CODEC_INT_FIELD(O, expires_at_ns),
    MOPAY_CODEC_INT_FIELD(O, paid_at_ns),
};
#undef O

static enum mopay_err order_apply(void *state, const void *image, char *why, size_t why_cap)
{
    struct mopay_merchant_state *m = state;
    const struct mopay_order *in = image;
    if (in->merchant == NULL || in->amount_minor <= 0 || in->vat_minor < 0 || in->status < MOPAY_ORDER_OPEN ||
        in->status > MOPAY_ORDER_EXPIRED)
        return mopay_codec_refuse(why, why_cap, "order", "no merchant, or amounts or status out of range");
    struct mopay_order *o = mopay_order_get(m, &in->id);
    if (o != NULL) {
        /* the tick's list of open orders follows the status */
        bool was_open = o->status == MOPAY_ORDER_OPEN;
        mopay_codec_copy(&mopay_merchant_order_kind, o, in);
        if (was_open && o->status != MOPAY_ORDER_OPEN) {
            order_open_unlink(m, o);
        } else if (!was_open && o->status == MOPAY_ORDER_OPEN) {
            o->next_open = m->open_orders;
            m->open_orders = o;
        }
        return MOPAY_OK;
    }
    if ((o = malloc(sizeof(*o))) == NULL)
        return mopay_codec_refuse(why, why_cap, "order", "out of memory");
    memcpy(o, in, sizeof(*o));
    o->next_open = NULL;
    if (!order_add(m, o)) {
        free(o);
        return mopay_codec_refuse(why, why_cap, "order", "out of memory");
    }
    return MOPAY_OK;
}

static void order_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    mopay_index_each(&((struct mopay_merchant_state *)state)->orders, fn, ctx);
}

const struct mopay_record_kind mopay_merchant_order_kind = {
    .name = "order",
    .tag = MOPAY_RECORD_ORDER,
    .version = 1,
    .size = sizeof(struct mopay_order),
    .fields = order_fields,
    .field_count = sizeof(order_fields) / sizeof(order_fields[0]),
    .apply = order_apply,
    .each = order_each,
};

/* --- bills --- */

#define B struct mopay_bill
static const struct mopay_codec_field bill_fields[] = {
    MOPAY_CODEC_ID_FIELD(B, id),
    MOPAY_CODEC_REF_FIELD(B, biller, ref_merchant),
    MOPAY_CODEC_TEXT_FIELD(B, reference),
    MOPAY_CODEC_INT_FIELD(B, amount_minor),
    MOPAY_CODEC_INT_FIELD(B, due_minor),
    MOPAY_CODEC_INT_FIELD(B, due_at_ns),
    MOPAY_CODEC_BOOL_FIELD(B, partial_allowed),
    MOPAY_CODEC_INT_FIELD(B, status),
    MOPAY_CODEC_INT_FIELD(B, created_at_ns),
    MOPAY_CODEC_INT_FIELD(B, paid_at_ns),
};
#undef B

static enum mopay_err bill_apply(void *state, const void *image, char *why, size_t why_cap)
{
    struct mopay_merchant_state *m = state;
    const struct mopay_bill *in = image;
    if (in->biller == NULL || in->amount_minor <= 0 || in->due_minor < 0 || in->due_minor > in->amount_minor ||
        (in->status != MOPAY_BILL_OPEN && in->status != MOPAY_BILL_PAID))
        return mopay_codec_refuse(why, why_cap, "bill", "no biller, or amounts or status out of range");
    struct mopay_bill *b = mopay_bill_get(m, &in->id);
    if (b != NULL) {
        /* the reference index is keyed by these two, which a bill keeps for life */
        if (b->biller != in->biller || strcmp(b->reference, in->reference) != 0)
            return mopay_codec_refuse(why, why_cap, "bill", "another biller or reference than the bill's");
        mopay_codec_copy(&mopay_merchant_bill_kind, b, in);
        return MOPAY_OK;
    }
    if ((b = malloc(sizeof(*b))) == NULL)
        return mopay_codec_refuse(why, why_cap, "bill", "out of memory");
    memcpy(b, in, sizeof(*b));
    if (!bill_add(m, b)) {
        free(b);
        return mopay_codec_refuse(why, why_cap, "bill", "out of memory");
    }
    return MOPAY_OK;
}

static void bill_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    mopay_index_each(&((struct mopay_merchant_state *)state)->bills, fn, ctx);
}

const struct mopay_record_kind mopay_merchant_bill_kind = {
    .name = "bill",
    .tag = MOPAY_RECORD_BILL,
    .version = 1,
    .size = sizeof(struct mopay_bill),
    .fields = bill_fields,
    .field_count = sizeof(bill_fields) / sizeof(bill_fields[0]),
    .apply = bill_apply,
    .each = bill_each,
};

/* Merchants first: orders and bills name them, and absorbing a database from before the journal
 * writes every live record in this order. */
void merchant_records_register(struct mopay_merchant_state *m)
{
    mopay_journal_register(m->options.journal, &mopay_merchant_merchant_kind, m);
    mopay_journal_register(m->options.journal, &mopay_merchant_order_kind, m);
    mopay_journal_register(m->options.journal, &mopay_merchant_bill_kind, m);
}

enum mopay_err merchant_record(struct mopay_merchant_state *m, int64_t now_ns, const struct mopay_merchant *merchant)
{
    return mopay_journal_put(m->options.journal, &mopay_merchant_merchant_kind, merchant, now_ns);
}

enum mopay_err order_record(struct mopay_merchant_state *m, int64_t now_ns, const struct mopay_order *order)
{
    return mopay_journal_put(m->options.journal, &mopay_merchant_order_kind, order, now_ns);
}

enum mopay_err bill_record(struct mopay_merchant_state *m, int64_t now_ns, const struct mopay_bill *bill)
{
    return mopay_journal_put(m->options.journal, &mopay_merchant_bill_kind, bill, now_ns);
}
