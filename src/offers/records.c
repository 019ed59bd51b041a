/* Offers and coupons in the journal: their tables, and how replay puts them back with the checks
 * their JSON records were loaded with (load.c, for databases from before). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

static void *ref_merchant(void *state, const struct mopay_id *id)
{
    return mopay_merchant_get(((struct mopay_offers_state *)state)->merchants, id);
}

static void *ref_offer(void *state, const struct mopay_id *id)
{
    return mopay_offer_get(state, id);
}

static void *ref_customer(void *state, const struct mopay_id *id)
{
    return mopay_wallet_customer(((struct mopay_offers_state *)state)->wallets, id);
}

/* --- offers --- */

#define X struct mopay_offer
static const struct mopay_codec_field offer_fields[] = {
    MOPAY_CODEC_ID_FIELD(X, id),
    MOPAY_CODEC_REF_FIELD(X, merchant, ref_merchant),
    MOPAY_CODEC_TEXT_FIELD(X, name),
    MOPAY_CODEC_INT_FIELD(X, kind),
    MOPAY_CODEC_UINT_FIELD(X, percent_bps),
    MOPAY_CODEC_INT_FIELD(X, fixed_minor),
    MOPAY_CODEC_INT_FIELD(X, min_spend_minor),
    MOPAY_CODEC_INT_FIELD(X, cap_minor),
    MOPAY_CODEC_INT_FIELD(X, valid_from_ns),
    MOPAY_CODEC_INT_FIELD(X, valid_until_ns),
    MOPAY_CODEC_INT_FIELD(X, budget_minor),
    MOPAY_CODEC_INT_FIELD(X, spent_minor),
    MOPAY_CODEC_UINT_FIELD(X, per_customer_limit),
    MOPAY_CODEC_INT_FIELD(X, funder),
    MOPAY_CODEC_UINT_FIELD(X, claimed),
    MOPAY_CODEC_INT_FIELD(X, created_at_ns),
};
#undef X
_Static_assert(offsetof(struct mopay_merchant, id) == 0 && offsetof(struct mopay_offer, id) == 0 &&
                   offsetof(struct mopay_customer, id) == 0,
               "a record a REF field names begins with its id");

static enum mopay_err offer_apply(void *state, const void *image, char *why, size_t why_cap)
{
    struct mopay_offers_state *o = state;
    const struct mopay_offer *in = image;
    if (in->merchant == NULL || (in->kind != MOPAY_OFFER_PERCENT && in->kind != MOPAY_OFFER_FIXED) ||
        (in->funder != MOPAY_OFFER_MERCHANT_FUNDED && in->funder != MOPAY_OFFER_PLATFORM_FUNDED) ||
        in->percent_bps >= 10000 || in->budget_minor <= 0 || in->spent_minor < 0 ||
        in->spent_minor > in->budget_minor || in->per_customer_limit == 0 ||
        in->per_customer_limit > MOPAY_OFFER_PER_CUSTOMER_MAX)
        return mopay_codec_refuse(why, why_cap, "offer", "no merchant, or kind, funder, budget or limits out of range");
    struct mopay_offer *x = mopay_offer_get(o, &in->id);
    if (x != NULL) { /* its budget and claims are fields: nothing kept beside them */
        mopay_codec_copy(&mopay_offers_offer_kind, x, in);
        return MOPAY_OK;
    }
    if ((x = malloc(sizeof(*x))) == NULL)
        return mopay_codec_refuse(why, why_cap, "offer", "out of memory");
    memcpy(x, in, sizeof(*x));
    if (!offer_add(o, x)) {
        free(x);
        return mopay_codec_refuse(why, why_cap, "offer", "out of memory");
    }
    return MOPAY_OK;
}

static void offer_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    mopay_index_each(&((struct mopay_offers_state *)state)->offers, fn, ctx);
}

const struct mopay_record_kind mopay_offers_offer_kind = {
    .name = "offer",
    .tag = MOPAY_RECORD_OFFER,
    .version = 1,
    .size = sizeof(struct mopay_offer),
    .fields = offer_fields,
    .field_count = sizeof(offer_fields) / sizeof(offer_fields[0]),
    .apply = offer_apply,
    .each = offer_each,
};

/* --- coupons --- */

#define C struct mopay_coupon
static const struct mopay_codec_field coupon_fields[] = {
    MOPAY_CODEC_ID_FIELD(C, id),
    MOPAY_CODEC_REF_FIELD(C, offer, ref_offer),
    MOPAY_CODEC_REF_FIELD(C, customer, ref_customer),
    MOPAY_CODEC_INT_FIELD(C, status),
    MOPAY_CODEC_INT_FIELD(C, discount_minor),
    MOPAY_CODEC_INT_FIELD(C, refunded_minor),
    MOPAY_CODEC_ID_FIELD(C, payment_id),
    MOPAY_CODEC_INT_FIELD(C, created_at_ns),
    MOPAY_CODEC_INT_FIELD(C, used_at_ns),
};
#undef C

static enum mopay_err coupon_apply(void *state, const void *image, char *why, size_t why_cap)
{
    struct mopay_offers_state *o = state;
    const struct mopay_coupon *in = image;
    if (in->offer == NULL || in->customer == NULL ||
        (in->status != MOPAY_COUPON_AVAILABLE && in->status != MOPAY_COUPON_USED) || in->discount_minor < 0 ||
        in->refunded_minor < 0 || in->refunded_minor > in->discount_minor)
        return mopay_codec_refuse(why, why_cap, "coupon", "no offer or customer, or status or amounts out of range");
    struct mopay_coupon *c = mopay_coupon_get(o, &in->id);
    if (c != NULL) {
        /* the claims count is kept by (offer, customer), which a coupon keeps for life */
        if (c->offer != in->offer || c->customer != in->customer)
            return mopay_codec_refuse(why, why_cap, "coupon", "another offer or customer than the coupon's");
        mopay_codec_copy(&mopay_offers_coupon_kind, c, in);
        return MOPAY_OK;
    }
    if ((c = malloc(sizeof(*c))) == NULL)
        return mopay_codec_refuse(why, why_cap, "coupon", "out of memory");
    memcpy(c, in, sizeof(*c));
    if (!coupon_add(o, c)) {
        free(c);
        return mopay_codec_refuse(why, why_cap, "coupon", "out of memory");
    }
    return MOPAY_OK;
}

static void coupon_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    mopay_index_each(&((struct mopay_offers_state *)state)->coupons, fn, ctx);
}

const struct mopay_record_kind mopay_offers_coupon_kind = {
    .name = "coupon",
    .tag = MOPAY_RECORD_COUPON,
    .version = 1,
    .size = sizeof(struct mopay_coupon),
    .fields = coupon_fields,
    .field_count = sizeof(coupon_fields) / sizeof(coupon_fields[0]),
    .apply = coupon_apply,
    .each = coupon_each,
};

/* Offers first: coupons name them. */
void offers_records_register(struct mopay_offers_state *o)
{
    mopay_journal_register(o->journal, &mopay_offers_offer_kind, o);
    mopay_journal_register(o->journal, &mopay_offers_coupon_kind, o);
}

enum mopay_err offer_record(struct mopay_offers_state *o, int64_t now_ns, const struct mopay_offer *x)
{
    return mopay_journal_put(o->journal, &mopay_offers_offer_kind, x, now_ns);
}

enum mopay_err coupon_record(struct mopay_offers_state *o, int64_t now_ns, const struct mopay_coupon *c)
{
    return mopay_journal_put(o->journal, &mopay_offers_coupon_kind, c, now_ns);
}
