/* Start-up: payments and refunds back into memory, checked as they are read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

struct load_ctx {
    struct mopay_pay_state *p;
    char *err;
    size_t err_cap;
    bool failed;
};

static bool load_fail(struct load_ctx *ctx, const char *kind, const char *id, const char *why)
{
    snprintf(ctx->err, ctx->err_cap, "%s record %s: %s", kind, id, why);
    ctx->failed = true;
    return false;
}

static bool zero_id(const struct mopay_id *id)
{
    static const struct mopay_id none;
    return memcmp(id, &none, sizeof(none)) == 0;
}

/* The objects a payment names, which the other modules loaded. */
static bool payment_links(struct load_ctx *ctx, struct mopay_payment *x, const char *const ids[4])
{
    struct mopay_id merchant, customer, wallet, order;
    if (!mopay_id_parse_text(MOPAY_ID_MERCHANT, ids[0], &merchant) || !mopay_id_parse_text(MOPAY_ID_CUSTOMER, ids[1], &customer) ||
        !mopay_id_parse_text(MOPAY_ID_WALLET, ids[2], &wallet) || !mopay_id_parse_text(MOPAY_ID_ORDER, ids[3], &order))
        return false;
    x->merchant = mopay_merchant_get(ctx->p->options.merchant, &merchant);
    x->customer = mopay_wallet_customer(ctx->p->options.wallet, &customer);
    x->wallet = zero_id(&wallet) ? NULL : mopay_wallet_get(ctx->p->options.wallet, &wallet);
    x->order = zero_id(&order) ? NULL : mopay_order_get(ctx->p->options.merchant, &order);
    return x->merchant != NULL && x->customer != NULL && (zero_id(&wallet) || x->wallet != NULL) &&
           (zero_id(&order) || x->order != NULL);
}

static bool payment_extras_read(struct load_ctx *ctx, json_t *e, struct mopay_payment *x)
{
    const char *coupon = NULL, *quote = NULL, *bill = NULL;
    json_int_t discount = 0, rate = 0, wallet = 0, fx_fee = 0, refunded = 0, score = 0;
    int action = 0, review = 0;
    json_t *reasons = NULL;
    struct mopay_id coupon_id;
    bool ok = json_unpack(e, "{s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:s, s:i, s:I, s:o, s:i}", "coupon_id", &coupon,
                          "discount_minor", &discount, "quote_id", &quote, "rate_units", &rate, "wallet_minor", &wallet,
                          "fx_fee_minor", &fx_fee, "wallet_refunded_minor", &refunded, "bill_id", &bill,
                          "risk_action", &action, "risk_score_ppm", &score, "risk_reasons", &reasons, "review",
                          &review) == 0 &&
              action >= MOPAY_RISK_APPROVE && action <= MOPAY_RISK_DECLINE && score >= 0 && score <= 1000000 &&
              review >= MOPAY_REVIEW_NONE && review <= MOPAY_REVIEW_LEGITIMATE && json_is_array(reasons) &&
              json_array_size(reasons) <= MOPAY_RISK_REASONS_MAX &&
              mopay_id_parse_text(MOPAY_ID_COUPON, coupon, &coupon_id) && mopay_id_parse_text(MOPAY_ID_QUOTE, quote, &x->fx.quote_id) &&
              mopay_id_parse_text(MOPAY_ID_BILL, bill, &x->bill_id) && discount >= 0 && discount < x->amount_minor && rate >= 0 &&
              wallet >= 0 && fx_fee >= 0 && fx_fee <= wallet && refunded >= 0;
    if (!ok)
        return false;
    x->coupon = zero_id(&coupon_id) ? NULL : mopay_coupon_get(ctx->p->options.offers, &coupon_id);
    x->discount_minor = discount;
    x->fx.rate_units = (uint64_t)rate, x->fx.wallet_minor = wallet, x->fx.fx_fee_minor = fx_fee;
    x->wallet_refunded_minor = refunded;
    x->risk.action = (enum mopay_risk_action)action;
    x->risk.score_ppm = (uint32_t)score;
    x->review = review;
    for (size_t i = 0; i < json_array_size(reasons); i++) {
        const char *r = json_string_value(json_array_get(reasons, i));
        if (r == NULL || strlen(r) >= sizeof(x->risk.reasons[0]))
            return false;
        mopay_text_copy(x->risk.reasons[i], sizeof(x->risk.reasons[i]), r);
    }
    x->risk.reason_count = json_array_size(reasons);
    return zero_id(&coupon_id) || x->coupon != NULL;
}

static bool payment_read(struct load_ctx *ctx, json_t *j, struct mopay_payment *x)
{
    const char *id = NULL, *ids[4] = {NULL}, *code = NULL, *reference = NULL;
    json_t *extras = NULL;
    int method = 0, status = 0;
    json_int_t amount = 0, tip = 0, fee = 0, refunded = 0, fee_refunded = 0, created = 0, confirm_by = 0;
    bool ok = json_unpack(j, "{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I, s:o}", "id",
                          &id, "merchant_id", &ids[0], "customer_id", &ids[1], "wallet_id", &ids[2], "order_id",
                          &ids[3], "method", &method, "status", &status, "decline_code", &code, "amount_minor",
                          &amount, "tip_minor", &tip, "fee_minor", &fee, "refunded_minor", &refunded,
                          "fee_refunded_minor", &fee_refunded, "reference", &reference, "created_at_ns", &created,
                          "confirm_by_ns", &confirm_by, "extras", &extras) == 0 &&
              mopay_id_parse_text(MOPAY_ID_PAYMENT, id, &x->id) && payment_links(ctx, x, ids) && method >= 0 &&
              method <= MOPAY_PAY_BILL && status >= 0 && status <= MOPAY_PAYMENT_REQUIRES_CONFIRMATION &&
              strlen(code) < sizeof(x->decline_code) && strlen(reference) < sizeof(x->reference) && amount > 0 &&
              tip >= 0 && tip <= amount && fee >= 0 && fee <= amount && refunded >= 0 && refunded <= amount &&
              fee_refunded >= 0 && fee_refunded <= fee;
    if (!ok)
        return false;
    x->method = (enum mopay_payment_method)method;
    x->status = (enum mopay_payment_status)status;
    mopay_text_copy(x->decline_code, sizeof(x->decline_code), code);
    mopay_text_copy(x->reference, sizeof(x->reference), reference);
    x->amount_minor = amount, x->tip_minor = tip, x->fee_minor = fee;
    x->refunded_minor = refunded, x->fee_refunded_minor = fee_refunded;
    x->created_at_ns = created, x->confirm_by_ns = confirm_by;
    return payment_extras_read(ctx, extras, x);
}

static bool load_payment(void *arg, const char *id, const char *text, size_t len)
{
    struct load_ctx *ctx = arg;
    json_t *j = json_loadb(text, len, 0, NULL);
    struct mopay_payment *x = calloc(1, sizeof(*x));
    bool ok = j != NULL && x != NULL && payment_read(ctx, j, x);
    json_decref(j);
    if (!ok) {
        free(x);
        return load_fail(ctx, "payment", id, "malformed, or what it names is missing");
    }
    if (!payment_add(ctx->p, x)) {
        free(x);
        return load_fail(ctx, "payment", id, "out of memory");
    }
    return true;
}

static bool load_refund(void *arg, const char *id, const char *text, size_t len)
{
    struct load_ctx *ctx = arg;
    json_t *j = json_loadb(text, len, 0, NULL);
    struct mopay_refund *r = calloc(1, sizeof(*r));
    const char *rid = NULL, *pid = NULL, *reason = NULL;
    json_int_t amount = 0, fee = 0, created = 0;
    struct mopay_id payment;
    bool ok = j != NULL && r != NULL &&
              json_unpack(j, "{s:s, s:s, s:I, s:I, s:s, s:I}", "id", &rid, "payment_id", &pid, "amount_minor", &amount,
                          "fee_returned_minor", &fee, "reason", &reason, "created_at_ns", &created) == 0 &&
              mopay_id_parse_text(MOPAY_ID_REFUND, rid, &r->id) && mopay_id_parse_text(MOPAY_ID_PAYMENT, pid, &payment) &&
              (r->payment = mopay_pay_payment(ctx->p, &payment)) != NULL && amount > 0 && fee >= 0 &&
              strlen(reason) < sizeof(r->reason);
    if (ok) {
        mopay_text_copy(r->reason, sizeof(r->reason), reason);
        r->amount_minor = amount, r->fee_returned_minor = fee, r->created_at_ns = created;
    }
    json_decref(j);
    if (!ok || !mopay_index_put(&ctx->p->refunds, r->id.bytes, r)) {
        free(r);
        return load_fail(ctx, "refund", id, "malformed, its payment is missing, or out of memory");
    }
    return true;
}

static bool load_nfc(void *arg, const char *id, const char *text, size_t len)
{
    struct load_ctx *ctx = arg;
    json_t *j = json_loadb(text, len, 0, NULL);
    struct mopay_nfc_token *t = calloc(1, sizeof(*t));
    const char *token = NULL, *did = NULL;
    json_int_t first = 0, count = 0, taps = 0, base = 0, last = 0, provisioned = 0, expires = 0;
    struct mopay_id device;
    bool ok = j != NULL && t != NULL &&
              json_unpack(j, "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "token", &token, "device_id", &did,
                          "key_first", &first, "key_count", &count, "taps_per_key", &taps, "atc_base", &base,
                          "atc_last", &last, "provisioned_at_ns", &provisioned, "expires_at_ns", &expires) == 0 &&
              strlen(token) == MOPAY_NFC_TOKEN_DIGITS && mopay_id_parse_text(MOPAY_ID_DEVICE, did, &device) &&
              (t->device = mopay_wallet_device(ctx->p->options.wallet, &device)) != NULL && first >= 0 &&
              first <= UINT32_MAX && count > 0 && count <= UINT32_MAX && taps > 0 && taps <= UINT32_MAX &&
              base >= 0 && base <= last && last <= UINT16_MAX;
    if (ok) {
        mopay_text_copy(t->token, sizeof(t->token), token);
        t->key_first = (uint32_t)first, t->key_count = (uint32_t)count, t->taps_per_key = (uint32_t)taps;
        t->atc_base = (uint32_t)base, t->atc_last = (uint32_t)last;
        t->provisioned_at_ns = provisioned, t->expires_at_ns = expires;
    }
    json_decref(j);
    if (!ok || !nfc_add(ctx->p, t)) {
        free(t);
        return load_fail(ctx, "nfc token", id, "malformed, its device is missing, or out of memory");
    }
    return true;
}

enum mopay_err mopay_pay_load(struct mopay_pay_state *p, struct mopay_store *store, char *err, size_t err_cap)
{
    struct load_ctx ctx = {p, err, err_cap, false};
    enum mopay_err e = store->records_load(store, "payment", load_payment, &ctx);
    if (e == MOPAY_OK && !ctx.failed)
        e = store->records_load(store, "refund", load_refund, &ctx);
    if (e == MOPAY_OK && !ctx.failed)
        e = store->records_load(store, "nfc", load_nfc, &ctx);
    if (ctx.failed)
        return MOPAY_ERR_store_failed;
    if (e != MOPAY_OK)
        snprintf(err, err_cap, "loading payment records: %s", store->last_error);
    return e;
}
