/* Payments, refunds and NFC tokens in the journal: their tables, and how replay puts them back. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void *ref_merchant(void *state, const struct mopay_id *id)
{
    return mopay_merchant_get(((struct mopay_pay_state *)state)->options.merchant, id);
}

static void *ref_customer(void *state, const struct mopay_id *id)
{
    return mopay_wallet_customer(((struct mopay_pay_state *)state)->options.wallet, id);
}

static void *ref_wallet(void *state, const struct mopay_id *id)
{
    return mopay_wallet_get(((struct mopay_pay_state *)state)->options.wallet, id);
}

static void *ref_order(void *state, const struct mopay_id *id)
{
    return mopay_order_get(((struct mopay_pay_state *)state)->options.merchant, id);
}

static void *ref_coupon(void *state, const struct mopay_id *id)
{
    return mopay_coupon_get(((struct mopay_pay_state *)state)->options.offers, id);
}

static void *ref_payment(void *state, const struct mopay_id *id)
{
    return mopay_pay_payment(state, id);
}

static void *ref_device(void *state, const struct mopay_id *id)
{
    return mopay_wallet_device(((struct mopay_pay_state *)state)->options.wallet, id);
}

#define P struct mopay_payment
static const struct mopay_codec_field payment_fields[] = {
    MOPAY_CODEC_ID_FIELD(P, id),
    MOPAY_CODEC_REF_FIELD(P, merchant, ref_merchant),
    MOPAY_CODEC_REF_FIELD(P, customer, ref_customer),
    MOPAY_CODEC_REF_FIELD(P, wallet, ref_wallet),
    MOPAY_CODEC_REF_FIELD(P, order, ref_order),
    MOPAY_CODEC_INT_FIELD(P, method),
    MOPAY_CODEC_INT_FIELD(P, status),
    MOPAY_CODEC_TEXT_FIELD(P, decline_code),
    MOPAY_CODEC_INT_FIELD(P, amount_minor),
    MOPAY_CODEC_INT_FIELD(P, tip_minor),
    MOPAY_CODEC_INT_FIELD(P, fee_minor),
    MOPAY_CODEC_INT_FIELD(P, refunded_minor),
    MOPAY_CODEC_INT_FIELD(P, fee_refunded_minor),
    MOPAY_CODEC_REF_FIELD(P, coupon, ref_coupon),
    MOPAY_CODEC_INT_FIELD(P, discount_minor),
    MOPAY_CODEC_ID_FIELD(P, fx.quote_id),
    MOPAY_CODEC_UINT_FIELD(P, fx.rate_units),
    MOPAY_CODEC_INT_FIELD(P, fx.wallet_minor),
    MOPAY_CODEC_INT_FIELD(P, fx.fx_fee_minor),
    MOPAY_CODEC_INT_FIELD(P, wallet_refunded_minor),
    MOPAY_CODEC_ID_FIELD(P, bill_id),
    MOPAY_CODEC_INT_FIELD(P, risk.action),
    MOPAY_CODEC_UINT_FIELD(P, risk.score_ppm),
    MOPAY_CODEC_UINT_FIELD(P, risk.reason_count),
    MOPAY_CODEC_TEXT_FIELD(P, risk.reasons[0]),
    MOPAY_CODEC_TEXT_FIELD(P, risk.reasons[1]),
    MOPAY_CODEC_TEXT_FIELD(P, risk.reasons[2]),
    MOPAY_CODEC_TEXT_FIELD(P, risk.reasons[3]),
    MOPAY_CODEC_INT_FIELD(P, review),
    MOPAY_CODEC_TEXT_FIELD(P, reference),
    MOPAY_CODEC_INT_FIELD(P, created_at_ns),
    MOPAY_CODEC_INT_FIELD(P, confirm_by_ns),
};
#undef P
_Static_assert(MOPAY_RISK_REASONS_MAX == 4, "payment_fields lists every reason");
_Static_assert(offsetof(struct mopay_merchant, id) == 0 && offsetof(struct mopay_customer, id) == 0 &&
                   offsetof(struct mopay_wallet, id) == 0 && offsetof(struct mopay_order, id) == 0 &&
                   offsetof(struct mopay_coupon, id) == 0 && offsetof(struct mopay_payment, id) == 0 &&
                   offsetof(struct mopay_device, id) == 0,
               "a record a REF field names begins with its id");

/* What loading a payment checks, as the records before the journal were checked. */
static bool payment_valid(const struct mopay_payment *x)
{
    return x->merchant != NULL && x->customer != NULL && x->method >= 0 && x->method <= MOPAY_PAY_BILL &&
           x->status >= 0 && x->status <= MOPAY_PAYMENT_REQUIRES_CONFIRMATION && x->amount_minor > 0 &&
           x->tip_minor >= 0 && x->tip_minor <= x->amount_minor && x->fee_minor >= 0 &&
           x->fee_minor <= x->amount_minor && x->refunded_minor >= 0 && x->refunded_minor <= x->amount_minor &&
           x->fee_refunded_minor >= 0 && x->fee_refunded_minor <= x->fee_minor && x->discount_minor >= 0 &&
           x->discount_minor < x->amount_minor && x->fx.wallet_minor >= 0 && x->fx.fx_fee_minor >= 0 &&
           x->fx.fx_fee_minor <= x->fx.wallet_minor && x->wallet_refunded_minor >= 0 &&
           x->risk.action >= MOPAY_RISK_APPROVE && x->risk.action <= MOPAY_RISK_DECLINE &&
           x->risk.score_ppm <= 1000000 && x->risk.reason_count <= MOPAY_RISK_REASONS_MAX &&
           x->review >= MOPAY_REVIEW_NONE && x->review <= MOPAY_REVIEW_LEGITIMATE;
}

static enum mopay_err payment_apply(void *state, const void *image, char *why, size_t why_cap)
{
    struct mopay_pay_state *p = state;
    const struct mopay_payment *in = image;
    if (!payment_valid(in))
        return mopay_codec_refuse(why, why_cap, "payment", "amounts, status or links out of range");
    struct mopay_payment *x = mopay_pay_payment(p, &in->id);
    if (x != NULL) {
        bool was_waiting = x->status == MOPAY_PAYMENT_REQUIRES_CONFIRMATION;
        mopay_codec_copy(&mopay_pay_payment_kind, x, in);
        if (was_waiting && x->status != MOPAY_PAYMENT_REQUIRES_CONFIRMATION)
            payment_unconfirmed_unlink(p, x);
        return MOPAY_OK;
    }
    if ((x = malloc(sizeof(*x))) == NULL)
        return mopay_codec_refuse(why, why_cap, "payment", "out of memory");
    memcpy(x, in, sizeof(*x));
    if (!payment_add(p, x)) {
        free(x);
        return mopay_codec_refuse(why, why_cap, "payment", "out of memory");
    }
    return MOPAY_OK;
}

static void payment_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    mopay_index_each(&((struct mopay_pay_state *)state)->payments, fn, ctx);
}

const struct mopay_record_kind mopay_pay_payment_kind = {
    .name = "payment",
    .tag = MOPAY_RECORD_PAYMENT,
    .version = 1,
    .size = sizeof(struct mopay_payment),
    .fields = payment_fields,
    .field_count = sizeof(payment_fields) / sizeof(payment_fields[0]),
    .apply = payment_apply,
    .each = payment_each,
};

#define R struct mopay_refund
static const struct mopay_codec_field refund_fields[] = {
    MOPAY_CODEC_ID_FIELD(R, id),
    MOPAY_CODEC_REF_FIELD(R, payment, ref_payment),
    MOPAY_CODEC_INT_FIELD(R, amount_minor),
    MOPAY_CODEC_INT_FIELD(R, fee_returned_minor),
    MOPAY_CODEC_TEXT_FIELD(R, reason),
    MOPAY_CODEC_INT_FIELD(R, created_at_ns),
};
#undef R

static enum mopay_err refund_apply(void *state, const void *image, char *why, size_t why_cap)
{
    struct mopay_pay_state *p = state;
    const struct mopay_refund *in = image;
    if (in->payment == NULL || in->amount_minor <= 0 || in->fee_returned_minor < 0)
        return mopay_codec_refuse(why, why_cap, "refund", "no payment, or amounts out of range");
    struct mopay_refund *r = mopay_pay_refund_get(p, &in->id);
    if (r != NULL) {
        mopay_codec_copy(&mopay_pay_refund_kind, r, in);
        return MOPAY_OK;
    }
    if ((r = malloc(sizeof(*r))) == NULL)
        return mopay_codec_refuse(why, why_cap, "refund", "out of memory");
    memcpy(r, in, sizeof(*r));
    if (!mopay_index_put(&p->refunds, r->id.bytes, r)) {
        free(r);
        return mopay_codec_refuse(why, why_cap, "refund", "out of memory");
    }
    return MOPAY_OK;
}

static void refund_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    mopay_index_each(&((struct mopay_pay_state *)state)->refunds, fn, ctx);
}

const struct mopay_record_kind mopay_pay_refund_kind = {
    .name = "refund",
    .tag = MOPAY_RECORD_REFUND,
    .version = 1,
    .size = sizeof(struct mopay_refund),
    .fields = refund_fields,
    .field_count = sizeof(refund_fields) / sizeof(refund_fields[0]),
    .apply = refund_apply,
    .each = refund_each,
};

#define T struct mopay_nfc_token
static const struct mopay_codec_field nfc_fields[] = {
    MOPAY_CODEC_TEXT_FIELD(T, token),
    MOPAY_CODEC_REF_FIELD(T, device, ref_device),
    MOPAY_CODEC_UINT_FIELD(T, key_first),
    MOPAY_CODEC_UINT_FIELD(T, key_count),
    MOPAY_CODEC_UINT_FIELD(T, taps_per_key),
    MOPAY_CODEC_UINT_FIELD(T, atc_base),
    MOPAY_CODEC_UINT_FIELD(T, atc_last),
    MOPAY_CODEC_INT_FIELD(T, provisioned_at_ns),
    MOPAY_CODEC_INT_FIELD(T, expires_at_ns),
};
#undef T

static enum mopay_err nfc_apply(void *state, const void *image, char *why, size_t why_cap)
{
    struct mopay_pay_state *p = state;
    const struct mopay_nfc_token *in = image;
    if (strlen(in->token) != MOPAY_NFC_TOKEN_DIGITS || in->device == NULL || in->key_count == 0 ||
        in->taps_per_key == 0 || in->atc_base > in->atc_last || in->atc_last > UINT16_MAX)
        return mopay_codec_refuse(why, why_cap, "nfc token", "malformed, or its device is missing");
    struct mopay_nfc_token *t = nfc_find(p, in->token);
    if (t != NULL) {
        mopay_codec_copy(&mopay_pay_nfc_kind, t, in);
        return MOPAY_OK;
    }
    if ((t = malloc(sizeof(*t))) == NULL)
        return mopay_codec_refuse(why, why_cap, "nfc token", "out of memory");
    memcpy(t, in, sizeof(*t));
    if (!nfc_add(p, t)) {
        free(t);
        return mopay_codec_refuse(why, why_cap, "nfc token", "out of memory");
    }
    return MOPAY_OK;
}

static void nfc_each(void *state, bool (*fn)(void *ctx, const void *record), void *ctx)
{
    mopay_index_each(&((struct mopay_pay_state *)state)->nfc_tokens, fn, ctx);
}

const struct mopay_record_kind mopay_pay_nfc_kind = {
    .name = "nfc",
    .tag = MOPAY_RECORD_NFC_TOKEN,
    .version = 1,
    .size = sizeof(struct mopay_nfc_token),
    .fields = nfc_fields,
    .field_count = sizeof(nfc_fields) / sizeof(nfc_fields[0]),
    .apply = nfc_apply,
    .each = nfc_each,
};

void pay_records_register(struct mopay_pay_state *p)
{
    mopay_journal_register(p->options.journal, &mopay_pay_payment_kind, p);
    mopay_journal_register(p->options.journal, &mopay_pay_refund_kind, p);
    mopay_journal_register(p->options.journal, &mopay_pay_nfc_kind, p);
}

enum mopay_err payment_record(struct mopay_pay_state *p, int64_t now_ns, const struct mopay_payment *x)
{
    return mopay_journal_put(p->options.journal, &mopay_pay_payment_kind, x, now_ns);
}

enum mopay_err refund_record(struct mopay_pay_state *p, int64_t now_ns, const struct mopay_refund *r)
{
    return mopay_journal_put(p->options.journal, &mopay_pay_refund_kind, r, now_ns);
}

enum mopay_err nfc_record(struct mopay_pay_state *p, int64_t now_ns, const struct mopay_nfc_token *t)
{
    return mopay_journal_put(p->options.journal, &mopay_pay_nfc_kind, t, now_ns);
}
