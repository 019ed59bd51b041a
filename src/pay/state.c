/* Payments and refunds in memory, their records, and loading them at start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

const char *mopay_payment_method_name(enum mopay_payment_method method)
{
    static const char *const names[] = {"qr_static", "qr_dynamic", "payment_code", "nfc", "online", "bill"};
    MOPAY_ASSERT(method >= 0 && method <= MOPAY_PAY_BILL);
    return names[method];
}

struct mopay_risk_guessing *mopay_pay_guessing(struct mopay_pay_state *p)
{
    return p->guessing;
}

const char *mopay_payment_status_name(enum mopay_payment_status status)
{
    static const char *const names[] = {"succeeded", "declined", "requires_confirmation"};
    MOPAY_ASSERT(status >= 0 && status <= MOPAY_PAYMENT_REQUIRES_CONFIRMATION);
    return names[status];
}

struct mopay_pay_state *mopay_pay_new(const struct mopay_pay_options *options)
{
    MOPAY_ASSERT(options->wallet != NULL && options->merchant != NULL && options->ledger != NULL);
    struct mopay_pay_state *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->options = *options;
    p->guessing = mopay_risk_guessing_new(options->wrong_codes_max, options->wrong_codes_window_s * 1000000000LL);
    if (!mopay_index_init(&p->payments, 1024) || !mopay_index_init(&p->refunds, 256) ||
        !mopay_index_init(&p->nfc_tokens, 256) || (options->wrong_codes_max > 0 && p->guessing == NULL)) {
        mopay_pay_free(p);
        return NULL;
    }
    return p;
}

void mopay_pay_free(struct mopay_pay_state *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; p->payments.slots != NULL && i < p->payments.capacity; i++)
        free(p->payments.slots[i].value);
    for (size_t i = 0; p->refunds.slots != NULL && i < p->refunds.capacity; i++)
        free(p->refunds.slots[i].value);
    for (size_t i = 0; p->nfc_tokens.slots != NULL && i < p->nfc_tokens.capacity; i++)
        free(p->nfc_tokens.slots[i].value);
    mopay_index_deinit(&p->payments);
    mopay_index_deinit(&p->refunds);
    mopay_index_deinit(&p->nfc_tokens);
    mopay_risk_guessing_free(p->guessing);
    free(p);
}

struct mopay_payment *mopay_pay_payment(struct mopay_pay_state *p, const struct mopay_id *id)
{
    return mopay_index_get(&p->payments, id->bytes);
}

struct mopay_refund *mopay_pay_refund_get(struct mopay_pay_state *p, const struct mopay_id *id)
{
    return mopay_index_get(&p->refunds, id->bytes);
}

bool payment_add(struct mopay_pay_state *p, struct mopay_payment *payment)
{
    if (!mopay_index_put(&p->payments, payment->id.bytes, payment))
        return false;
    if (payment->status == MOPAY_PAYMENT_REQUIRES_CONFIRMATION) {
        payment->next_unconfirmed = p->unconfirmed;
        p->unconfirmed = payment;
    }
    return true;
}

void payment_unconfirmed_unlink(struct mopay_pay_state *p, struct mopay_payment *payment)
{
    for (struct mopay_payment **link = &p->unconfirmed; *link != NULL; link = &(*link)->next_unconfirmed)
        if (*link == payment) {
            *link = payment->next_unconfirmed;
            payment->next_unconfirmed = NULL;
            return;
        }
}

/* The parts of a payment only some payments have: a coupon, a conversion, a bill. */
static json_t *payment_extras_json(const struct mopay_payment *x)
{
    char coupon[MOPAY_ID_TEXT_BYTES], quote[MOPAY_ID_TEXT_BYTES], bill[MOPAY_ID_TEXT_BYTES];
    struct mopay_id none = {{0}};
    mopay_id_format(MOPAY_ID_COUPON, x->coupon != NULL ? &x->coupon->id : &none, coupon);
    mopay_id_format(MOPAY_ID_QUOTE, &x->fx.quote_id, quote);
    mopay_id_format(MOPAY_ID_BILL, &x->bill_id, bill);
    json_t *reasons = json_array();
    for (size_t i = 0; i < x->risk.reason_count; i++)
        json_array_append_new(reasons, json_string(x->risk.reasons[i]));
    return json_pack("{s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:s, s:i, s:I, s:o, s:i}", "coupon_id", coupon,
                     "discount_minor", (json_int_t)x->discount_minor, "quote_id", quote, "rate_units",
                     (json_int_t)x->fx.rate_units, "wallet_minor", (json_int_t)x->fx.wallet_minor, "fx_fee_minor",
                     (json_int_t)x->fx.fx_fee_minor, "wallet_refunded_minor", (json_int_t)x->wallet_refunded_minor,
                     "bill_id", bill, "risk_action", (int)x->risk.action, "risk_score_ppm",
                     (json_int_t)x->risk.score_ppm, "risk_reasons", reasons, "review", (int)x->review);
}

enum mopay_err payment_record(struct mopay_store *store, int64_t now_ns, const struct mopay_payment *x)
{
    char id[MOPAY_ID_TEXT_BYTES], merchant[MOPAY_ID_TEXT_BYTES], customer[MOPAY_ID_TEXT_BYTES],
        wallet[MOPAY_ID_TEXT_BYTES], order[MOPAY_ID_TEXT_BYTES];
    struct mopay_id none = {{0}};
    mopay_id_format(MOPAY_ID_PAYMENT, &x->id, id);
    mopay_id_format(MOPAY_ID_MERCHANT, &x->merchant->id, merchant);
    mopay_id_format(MOPAY_ID_CUSTOMER, &x->customer->id, customer);
    mopay_id_format(MOPAY_ID_WALLET, x->wallet != NULL ? &x->wallet->id : &none, wallet);
    mopay_id_format(MOPAY_ID_ORDER, x->order != NULL ? &x->order->id : &none, order);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I, s:o}",
                          "id", id, "merchant_id", merchant, "customer_id", customer, "wallet_id", wallet, "order_id",
                          order, "method", (int)x->method, "status", (int)x->status, "decline_code", x->decline_code,
                          "amount_minor", (json_int_t)x->amount_minor, "tip_minor", (json_int_t)x->tip_minor,
                          "fee_minor", (json_int_t)x->fee_minor, "refunded_minor", (json_int_t)x->refunded_minor,
                          "fee_refunded_minor", (json_int_t)x->fee_refunded_minor, "reference", x->reference,
                          "created_at_ns", (json_int_t)x->created_at_ns, "confirm_by_ns",
                          (json_int_t)x->confirm_by_ns, "extras", payment_extras_json(x));
    return mopay_store_record_put_json(store, "payment", id, j, now_ns);
}

enum mopay_err refund_record(struct mopay_store *store, int64_t now_ns, const struct mopay_refund *r)
{
    char id[MOPAY_ID_TEXT_BYTES], payment[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_REFUND, &r->id, id);
    mopay_id_format(MOPAY_ID_PAYMENT, &r->payment->id, payment);
    json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:s, s:I}", "id", id, "payment_id", payment, "amount_minor",
                          (json_int_t)r->amount_minor, "fee_returned_minor", (json_int_t)r->fee_returned_minor,
                          "reason", r->reason, "created_at_ns", (json_int_t)r->created_at_ns);
    return mopay_store_record_put_json(store, "refund", id, j, now_ns);
}

void mopay_pay_stats(const struct mopay_pay_state *p, struct mopay_pay_stats *out)
{
    for (int m = 0; m < MOPAY_PAY_METHODS; m++)
        for (int s = 0; s < MOPAY_PAY_STATUSES; s++)
            out->payments[m][s] = atomic_load(&p->made[m][s]);
    out->refunds = atomic_load(&p->refunds_made);
    out->timeouts_deferred = atomic_load(&p->timeouts_deferred);
}

size_t mopay_pay_reviews(struct mopay_pay_state *p, struct mopay_payment **out, size_t cap)
{
    MOPAY_ASSERT(cap > 0);
    size_t n = 0;
    for (size_t i = 0; i < p->payments.capacity; i++) {
        struct mopay_payment *x = p->payments.slots[i].value;
        if (x == NULL || x->review != MOPAY_REVIEW_OPEN)
            continue;
        /* keep the `cap` newest: ids are time-ordered */
        size_t at = n < cap ? n++ : cap;
        if (at == cap && memcmp(&out[cap - 1]->id, &x->id, 16) > 0)
            continue;
        at = at == cap ? cap - 1 : at;
        out[at] = x;
        for (; at > 0 && memcmp(&out[at - 1]->id, &out[at]->id, 16) < 0; at--) {
            struct mopay_payment *t = out[at];
            out[at] = out[at - 1];
            out[at - 1] = t;
        }
    }
    return n;
}

enum mopay_err mopay_pay_review(struct mopay_pay_state *p, struct mopay_store *store, int64_t now_ns,
                                struct mopay_payment *x, bool fraud)
{
    if (x->review != MOPAY_REVIEW_OPEN)
        return MOPAY_ERR_review_not_open;
    x->review = fraud ? MOPAY_REVIEW_FRAUD : MOPAY_REVIEW_LEGITIMATE;
    enum mopay_err err = payment_record(store, now_ns, x);
    if (err == MOPAY_OK && fraud)
        err = mopay_wallet_trust_note(p->options.wallet, store, now_ns, x->customer, MOPAY_TRUST_FRAUD);
    return err;
}

size_t mopay_pay_payment_count(const struct mopay_pay_state *p)
{
    return p->payments.count;
}
