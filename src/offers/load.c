/* Start-up: offers and coupons from their JSON records (a database from before the journal),
 * checked as they are read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

struct load_ctx {
    struct mopay_offers_state *o;
    char *err;
    size_t err_cap;
    bool failed;
};

static bool load_fail(struct load_ctx *ctx, const char *kind, const char *id)
{
    snprintf(ctx->err, ctx->err_cap, "%s record %s: malformed, or what it names is missing", kind, id);
    ctx->failed = true;
    return false;
}

static bool offer_read(struct load_ctx *ctx, json_t *j, struct mopay_offer *x)
{
    const char *id = NULL, *mid = NULL, *name = NULL;
    json_int_t v[13] = {0};
    int kind = 0, funder = 0;
    struct mopay_id merchant;
    bool ok = json_unpack(j, "{s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:I, s:I}", "id", &id,
                          "merchant_id", &mid, "name", &name, "kind", &kind, "percent_bps", &v[0], "fixed_minor", &v[1],
                          "min_spend_minor", &v[2], "cap_minor", &v[3], "valid_from_ns", &v[4], "valid_until_ns",
                          &v[5], "budget_minor", &v[6], "spent_minor", &v[7], "per_customer_limit", &v[8], "funder",
                          &funder, "claimed", &v[9], "created_at_ns", &v[10]) == 0 &&
              mopay_id_parse_text(MOPAY_ID_OFFER, id, &x->id) && mopay_id_parse_text(MOPAY_ID_MERCHANT, mid, &merchant) &&
              (x->merchant = mopay_merchant_get(ctx->o->merchants, &merchant)) != NULL &&
              strlen(name) < sizeof(x->name) && (kind == MOPAY_OFFER_PERCENT || kind == MOPAY_OFFER_FIXED) &&
              (funder == MOPAY_OFFER_MERCHANT_FUNDED || funder == MOPAY_OFFER_PLATFORM_FUNDED) && v[0] >= 0 &&
              v[0] < 10000 && v[6] > 0 && v[7] >= 0 && v[7] <= v[6] && v[8] > 0 && v[8] <= MOPAY_OFFER_PER_CUSTOMER_MAX &&
              v[9] >= 0 && v[9] <= UINT32_MAX;
    if (!ok)
        return false;
    mopay_text_copy(x->name, sizeof(x->name), name);
    x->kind = (enum mopay_offer_kind)kind;
    x->funder = (enum mopay_offer_funder)funder;
    x->percent_bps = (uint32_t)v[0], x->fixed_minor = v[1], x->min_spend_minor = v[2], x->cap_minor = v[3];
    x->valid_from_ns = v[4], x->valid_until_ns = v[5], x->budget_minor = v[6], x->spent_minor = v[7];
    x->per_customer_limit = (uint32_t)v[8], x->claimed = (uint32_t)v[9], x->created_at_ns = v[10];
    return true;
}

static bool load_offer(void *arg, const char *id, const char *text, size_t len)
{
    struct load_ctx *ctx = arg;
    json_t *j = json_loadb(text, len, 0, NULL);
    struct mopay_offer *x = calloc(1, sizeof(*x));
    bool ok = j != NULL && x != NULL && offer_read(ctx, j, x) && offer_add(ctx->o, x);
    json_decref(j);
    if (!ok) {
        free(x);
        return load_fail(ctx, "offer", id);
    }
    return true;
}

static bool coupon_read(struct load_ctx *ctx, json_t *j, struct mopay_coupon *c)
{
    const char *id = NULL, *oid = NULL, *cid = NULL, *pid = NULL;
    int status = 0;
    json_int_t discount = 0, refunded = 0, created = 0, used = 0;
    struct mopay_id offer, customer;
    bool ok = json_unpack(j, "{s:s, s:s, s:s, s:i, s:I, s:I, s:s, s:I, s:I}", "id", &id, "offer_id", &oid,
                          "customer_id", &cid, "status", &status, "discount_minor", &discount, "refunded_minor",
                          &refunded, "payment_id", &pid, "created_at_ns", &created, "used_at_ns", &used) == 0 &&
              mopay_id_parse_text(MOPAY_ID_COUPON, id, &c->id) && mopay_id_parse_text(MOPAY_ID_OFFER, oid, &offer) &&
              mopay_id_parse_text(MOPAY_ID_CUSTOMER, cid, &customer) && mopay_id_parse_text(MOPAY_ID_PAYMENT, pid, &c->payment_id) &&
              (c->offer = mopay_offer_get(ctx->o, &offer)) != NULL &&
              (c->customer = mopay_wallet_customer(ctx->o->wallets, &customer)) != NULL &&
              (status == MOPAY_COUPON_AVAILABLE || status == MOPAY_COUPON_USED) && discount >= 0 && refunded >= 0 &&
              refunded <= discount;
    c->status = (enum mopay_coupon_status)status;
    c->discount_minor = discount, c->refunded_minor = refunded, c->created_at_ns = created, c->used_at_ns = used;
    return ok;
}

static bool load_coupon(void *arg, const char *id, const char *text, size_t len)
{
    struct load_ctx *ctx = arg;
    json_t *j = json_loadb(text, len, 0, NULL);
    struct mopay_coupon *c = calloc(1, sizeof(*c));
    bool ok = j != NULL && c != NULL && coupon_read(ctx, j, c) && coupon_add(ctx->o, c);
    json_decref(j);
    if (!ok) {
        free(c);
        return load_fail(ctx, "coupon", id);
    }
    return true;
}

enum mopay_err mopay_offers_load(struct mopay_offers_state *o, struct mopay_store *store, char *err, size_t err_cap)
{
    struct load_ctx ctx = {o, err, err_cap, false};
    enum mopay_err e = store->records_load(store, "offer", load_offer, &ctx);
    if (e == MOPAY_OK && !ctx.failed)
        e = store->records_load(store, "coupon", load_coupon, &ctx);
    if (ctx.failed)
        return MOPAY_ERR_store_failed;
    if (e != MOPAY_OK)
        snprintf(err, err_cap, "loading offer records: %s", store->last_error);
    return e;
}
