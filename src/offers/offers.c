/* Offers, their coupons, and what a coupon takes off a payment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "mopay/assert.h"

struct mopay_offers_state *mopay_offers_new(struct mopay_merchant_state *merchants, struct mopay_wallet_state *wallets,
                                            struct mopay_journal *journal)
{
    MOPAY_ASSERT(merchants != NULL && wallets != NULL && journal != NULL);
    struct mopay_offers_state *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return NULL;
    o->merchants = merchants;
    o->wallets = wallets;
    o->journal = journal;
    if (!mopay_index_init(&o->offers, 64) || !mopay_index_init(&o->coupons, 256) || !mopay_index_init(&o->claims, 256)) {
        mopay_offers_free(o);
        return NULL;
    }
    offers_records_register(o);
    return o;
}

void mopay_offers_free(struct mopay_offers_state *o)
{
    if (o == NULL)
        return;
    for (size_t i = 0; o->offers.slots != NULL && i < o->offers.capacity; i++)
        free(o->offers.slots[i].value);
    for (size_t i = 0; o->coupons.slots != NULL && i < o->coupons.capacity; i++)
        free(o->coupons.slots[i].value);
    mopay_index_deinit(&o->offers);
    mopay_index_deinit(&o->coupons);
    mopay_index_deinit(&o->claims);
    free(o);
}

struct mopay_offer *mopay_offer_get(struct mopay_offers_state *o, const struct mopay_id *id)
{
    return mopay_index_get(&o->offers, id->bytes);
}

struct mopay_coupon *mopay_coupon_get(struct mopay_offers_state *o, const struct mopay_id *id)
{
    return mopay_index_get(&o->coupons, id->bytes);
}

/* The claims index's key for (offer, customer). */
static void claim_key(const struct mopay_offer *x, const struct mopay_customer *c, uint8_t key[16])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    crypto_generichash_update(&st, x->id.bytes, 16);
    crypto_generichash_update(&st, c->id.bytes, 16);
    crypto_generichash_final(&st, key, 16);
}

bool offer_add(struct mopay_offers_state *o, struct mopay_offer *x)
{
    return mopay_index_put(&o->offers, x->id.bytes, x);
}

/* Indexes a coupon and counts its claim. */
bool coupon_add(struct mopay_offers_state *o, struct mopay_coupon *c)
{
    uint8_t key[16];
    claim_key(c->offer, c->customer, key);
    uintptr_t claims = (uintptr_t)mopay_index_get(&o->claims, key);
    if (!mopay_index_put(&o->coupons, c->id.bytes, c))
        return false;
    if (!mopay_index_put(&o->claims, key, (void *)(claims + 1))) {
        mopay_index_remove(&o->coupons, c->id.bytes);
        return false;
    }
    return true;
}

enum mopay_err mopay_offer_create(struct mopay_offers_state *o, struct mopay_store *store, int64_t now_ns,
                                  struct mopay_merchant *merchant, const struct mopay_offer_input *in,
                                  struct mopay_offer **out)
{
    (void)store; /* the offer's record goes to the journal */
    MOPAY_ASSERT(in->valid_until_ns > in->valid_from_ns && in->budget_minor > 0 && in->per_customer_limit > 0);
    MOPAY_ASSERT(in->kind == MOPAY_OFFER_FIXED ? in->fixed_minor > 0 && in->fixed_minor < in->min_spend_minor
                                               : in->percent_bps > 0 && in->percent_bps < 10000);
    struct mopay_offer *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return MOPAY_ERR_internal;
    mopay_id_new(now_ns, &x->id);
    x->merchant = merchant;
    mopay_text_copy(x->name, sizeof(x->name), in->name);
    x->kind = in->kind;
    x->percent_bps = in->percent_bps;
    x->fixed_minor = in->fixed_minor;
    x->min_spend_minor = in->min_spend_minor;
    x->cap_minor = in->cap_minor;
    x->valid_from_ns = in->valid_from_ns;
    x->valid_until_ns = in->valid_until_ns;
    x->budget_minor = in->budget_minor;
    x->per_customer_limit = in->per_customer_limit;
    x->funder = in->funder;
    x->created_at_ns = now_ns;
    if (!offer_add(o, x)) {
        free(x);
        return MOPAY_ERR_internal;
    }
    *out = x;
    return offer_record(o, now_ns, x);
}

static bool offer_active(const struct mopay_offer *x, int64_t now_ns)
{
    return now_ns >= x->valid_from_ns && now_ns < x->valid_until_ns;
}

enum mopay_err mopay_offer_claim(struct mopay_offers_state *o, struct mopay_store *store, int64_t now_ns,
                                 struct mopay_offer *x, struct mopay_customer *customer, struct mopay_coupon **out)
{
    (void)store; /* the records go to the journal */
    if (!offer_active(x, now_ns))
        return MOPAY_ERR_offer_not_active;
    if (x->spent_minor >= x->budget_minor)
        return MOPAY_ERR_offer_budget_exhausted;
    uint8_t key[16];
    claim_key(x, customer, key);
    if ((uintptr_t)mopay_index_get(&o->claims, key) >= x->per_customer_limit)
        return MOPAY_ERR_coupon_limit_reached;
    struct mopay_coupon *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return MOPAY_ERR_internal;
    mopay_id_new(now_ns, &c->id);
    c->offer = x;
    c->customer = customer;
    c->created_at_ns = now_ns;
    if (!coupon_add(o, c)) {
        free(c);
        return MOPAY_ERR_internal;
    }
    x->claimed++;
    *out = c;
    /* the offer existed before: the coupon's image names it, then the offer's counts its claim */
    enum mopay_err err = coupon_record(o, now_ns, c);
    return err != MOPAY_OK ? err : offer_record(o, now_ns, x);
}

size_t mopay_coupons_of(struct mopay_offers_state *o, const struct mopay_customer *c, struct mopay_coupon **out,
                        size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < o->coupons.capacity && n < cap; i++) {
        struct mopay_coupon *x = o->coupons.slots[i].value;
        if (x != NULL && x->customer == c)
            out[n++] = x;
    }
    /* newest first: ids are time-ordered */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && memcmp(&out[j - 1]->id, &out[j]->id, 16) < 0; j--) {
            struct mopay_coupon *t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

enum mopay_err mopay_coupon_discount(const struct mopay_coupon *coupon, const struct mopay_customer *customer,
                                     const struct mopay_merchant *merchant, int64_t amount_minor, int64_t now_ns,
                                     int64_t *discount_minor)
{
    const struct mopay_offer *x = coupon->offer;
    if (coupon->customer != customer || x->merchant != merchant || coupon->status != MOPAY_COUPON_AVAILABLE)
        return MOPAY_ERR_coupon_not_usable;
    if (!offer_active(x, now_ns))
        return MOPAY_ERR_offer_not_active;
    if (amount_minor < x->min_spend_minor)
        return MOPAY_ERR_coupon_min_spend;
    int64_t d = x->kind == MOPAY_OFFER_FIXED ? x->fixed_minor
                                             : (int64_t)(((__int128)amount_minor * x->percent_bps) / 10000);
    if (x->kind == MOPAY_OFFER_PERCENT && x->cap_minor > 0 && d > x->cap_minor)
        d = x->cap_minor;
    if (d >= amount_minor)
        d = amount_minor - 1; /* the customer always pays something: a payment moves money */
    if (d <= 0 || d > x->budget_minor - x->spent_minor)
        return MOPAY_ERR_offer_budget_exhausted;
    *discount_minor = d;
    return MOPAY_OK;
}

enum mopay_err mopay_coupon_redeemable(const struct mopay_coupon *coupon, int64_t discount_minor)
{
    const struct mopay_offer *x = coupon->offer;
    if (coupon->status != MOPAY_COUPON_AVAILABLE)
        return MOPAY_ERR_coupon_not_usable;
    if (discount_minor <= 0 || discount_minor > x->budget_minor - x->spent_minor)
        return MOPAY_ERR_offer_budget_exhausted;
    return MOPAY_OK;
}

enum mopay_err mopay_coupon_redeem(struct mopay_offers_state *o, struct mopay_store *store, int64_t now_ns,
                                   struct mopay_coupon *coupon, const struct mopay_id *payment_id,
                                   int64_t discount_minor)
{
    (void)store; /* the records go to the journal */
    struct mopay_offer *x = coupon->offer;
    MOPAY_ASSERT(coupon->status == MOPAY_COUPON_AVAILABLE && discount_minor > 0 &&
                 discount_minor <= x->budget_minor - x->spent_minor);
    x->spent_minor += discount_minor;
    coupon->status = MOPAY_COUPON_USED;
    coupon->discount_minor = discount_minor;
    coupon->payment_id = *payment_id;
    coupon->used_at_ns = now_ns;
    enum mopay_err err = coupon_record(o, now_ns, coupon);
    return err != MOPAY_OK ? err : offer_record(o, now_ns, x);
}

int64_t mopay_coupon_refund_share(const struct mopay_coupon *coupon, int64_t refund_minor, int64_t refunded_before,
                                  int64_t amount_minor)
{
    MOPAY_ASSERT(refund_minor > 0 && refunded_before + refund_minor <= amount_minor);
    if (refunded_before + refund_minor == amount_minor)
        return coupon->discount_minor - coupon->refunded_minor;
    return (int64_t)(((__int128)coupon->discount_minor * refund_minor) / amount_minor);
}

enum mopay_err mopay_coupon_refunded(struct mopay_offers_state *o, struct mopay_store *store, int64_t now_ns,
                                     struct mopay_coupon *coupon, int64_t share_minor)
{
    (void)store; /* the records go to the journal */
    MOPAY_ASSERT(share_minor >= 0 && coupon->refunded_minor + share_minor <= coupon->discount_minor);
    if (share_minor == 0)
        return MOPAY_OK;
    coupon->refunded_minor += share_minor;
    coupon->offer->spent_minor -= share_minor;
    enum mopay_err err = coupon_record(o, now_ns, coupon);
    return err != MOPAY_OK ? err : offer_record(o, now_ns, coupon->offer);
}
