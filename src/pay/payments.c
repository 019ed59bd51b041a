/* The payment pipeline: authorize, risk, ledger, bookkeeping. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

/* The customer may pay from this wallet: a refusal here is a decline, not an error. */
static enum mopay_err authorize(const struct mopay_payment *x)
{
    if (x->customer->frozen)
        return MOPAY_ERR_customer_frozen;
    if (x->wallet == NULL || x->wallet->currency != x->merchant->currency)
        return MOPAY_ERR_currency_mismatch; /* cross-border payments run at a quote's rate (FX) */
    return MOPAY_OK;
}

static int64_t major_to_minor(int64_t major, const struct mopay_currency *c)
{
    int64_t v = major;
    for (int i = 0; i < c->exponent; i++)
        if (__builtin_mul_overflow(v, 10, &v))
            return INT64_MAX;
    return v;
}

/* The rules: balance and daily limit; then a PIN step-up for large payments. */
static enum mopay_err risk(struct mopay_pay_state *p, const struct mopay_payment *x, bool pin_verified,
                           int64_t now_ns, bool *step_up)
{
    *step_up = false;
    enum mopay_err err = mopay_wallet_outflow_check(p->options.wallet, x->wallet, x->amount_minor, now_ns);
    if (err != MOPAY_OK)
        return err;
    int64_t threshold = p->options.confirm_above_major;
    *step_up = !pin_verified && threshold > 0 && x->amount_minor >= major_to_minor(threshold, x->wallet->currency);
    return MOPAY_OK;
}

/* wallet -> merchant for the amount, merchant -> revenue for the fee: linked, so both or none. */
static enum mopay_err ledger_post(struct mopay_pay_state *p, const struct mopay_payment *x, int64_t now_ns)
{
    struct mopay_ledger_transfer t[2];
    memset(t, 0, sizeof(t));
    uint16_t currency = x->merchant->currency->numeric;
    mopay_id_new(now_ns, &t[0].id);
    t[0].debit_account_id = x->wallet->id;
    t[0].credit_account_id = x->merchant->id;
    t[0].amount = (uint64_t)x->amount_minor;
    t[0].currency = currency;
    t[0].code = MOPAY_PAY_CODE_PAYMENT;
    size_t count = 1;
    if (x->fee_minor > 0) {
        enum mopay_err err = mopay_ledger_service_system_account(p->options.ledger, MOPAY_LEDGER_KIND_REVENUE,
                                                                 currency, now_ns, &t[1].credit_account_id);
        if (err != MOPAY_OK)
            return err;
        t[0].flags = MOPAY_LEDGER_LINKED;
        mopay_id_new(now_ns, &t[1].id);
        t[1].debit_account_id = x->merchant->id;
        t[1].amount = (uint64_t)x->fee_minor;
        t[1].currency = currency;
        t[1].code = MOPAY_PAY_CODE_FEE;
        count = 2;
    }
    uint8_t results[2] = {0, 0};
    size_t ok = mopay_ledger_service_create_transfers(p->options.ledger, t, count, now_ns, results);
    if (ok == count)
        return MOPAY_OK;
    return results[0] == MOPAY_LEDGER_exceeds_credits ? MOPAY_ERR_insufficient_funds : MOPAY_ERR_ledger_rejected;
}

/* What a succeeded payment changes besides the ledger. */
static enum mopay_err bookkeeping(struct mopay_pay_state *p, struct mopay_store *store, struct mopay_payment *x,
                                  int64_t now_ns)
{
    char id[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_PAYMENT, &x->id, id);
    enum mopay_err err = mopay_wallet_outflow_count(store, x->wallet, x->amount_minor, now_ns, now_ns);
    if (err == MOPAY_OK)
        err = mopay_wallet_history_add(store, x->wallet, now_ns, id, "payment", -x->amount_minor, x->merchant->name,
                                       x->reference);
    if (err == MOPAY_OK && x->order != NULL)
        err = mopay_order_mark_paid(p->options.merchant, store, now_ns, x->order, &x->id);
    return err;
}

/* Runs risk and, when it passes, the ledger: the payment's status and decline code say how it went. */
static enum mopay_err settle(struct mopay_pay_state *p, struct mopay_store *store, struct mopay_payment *x,
                             bool pin_verified, int64_t now_ns)
{
    bool step_up = false;
    enum mopay_err decline = authorize(x);
    if (decline == MOPAY_OK)
        decline = risk(p, x, pin_verified, now_ns, &step_up);
    if (decline == MOPAY_OK && !step_up)
        decline = ledger_post(p, x, now_ns);
    if (decline == MOPAY_ERR_ledger_rejected)
        return decline; /* the checks above should have made this impossible */
    x->status = decline != MOPAY_OK ? MOPAY_PAYMENT_DECLINED
                : step_up           ? MOPAY_PAYMENT_REQUIRES_CONFIRMATION
                                    : MOPAY_PAYMENT_SUCCEEDED;
    mopay_text_copy(x->decline_code, sizeof(x->decline_code), decline != MOPAY_OK ? mopay_err_code(decline) : "");
    enum mopay_err err = x->status == MOPAY_PAYMENT_SUCCEEDED ? bookkeeping(p, store, x, now_ns) : MOPAY_OK;
    if (err == MOPAY_OK)
        err = payment_record(store, now_ns, x);
    if (err == MOPAY_OK && p->options.events.payment != NULL)
        err = p->options.events.payment(p->options.events.ctx, store, now_ns, x);
    return err;
}

enum mopay_err mopay_pay_execute(struct mopay_pay_state *p, struct mopay_store *store, int64_t now_ns,
                                 const struct mopay_pay_request *req, struct mopay_payment **out)
{
    MOPAY_ASSERT(req->amount_minor > 0 && req->tip_minor >= 0 && req->tip_minor < req->amount_minor);
    if (req->order != NULL) {
        enum mopay_err err = mopay_order_payable(req->order, now_ns);
        if (err != MOPAY_OK)
            return err;
    }
    struct mopay_payment *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return MOPAY_ERR_internal;
    mopay_id_new(now_ns, &x->id);
    x->merchant = req->merchant;
    x->customer = req->customer;
    x->wallet = req->wallet != NULL ? req->wallet : mopay_wallet_of(req->customer, req->merchant->currency);
    MOPAY_ASSERT(x->wallet == NULL || x->wallet->customer == req->customer);
    x->order = req->order;
    x->method = req->method;
    x->amount_minor = req->amount_minor;
    x->tip_minor = req->tip_minor;
    x->fee_minor = mopay_merchant_fee(req->merchant, req->amount_minor);
    mopay_text_copy(x->reference, sizeof(x->reference), req->reference != NULL ? req->reference : "");
    x->created_at_ns = now_ns;
    x->confirm_by_ns = now_ns + p->options.confirm_ttl_s * 1000000000;
    if (!payment_add(p, x)) {
        free(x);
        return MOPAY_ERR_internal;
    }
    *out = x;
    enum mopay_err err = settle(p, store, x, req->pin_verified, now_ns);
    if (err != MOPAY_OK && !mopay_store_err_fatal(err)) { /* nothing was written: forget it */
        mopay_index_remove(&p->payments, x->id.bytes);
        free(x);
        *out = NULL;
        return err;
    }
    atomic_fetch_add(&p->made[x->method][x->status], 1);
    if (x->status == MOPAY_PAYMENT_REQUIRES_CONFIRMATION && err == MOPAY_OK) {
        x->next_unconfirmed = p->unconfirmed;
        p->unconfirmed = x;
    }
    return err;
}

enum mopay_err mopay_pay_confirm(struct mopay_pay_state *p, struct mopay_store *store, int64_t now_ns,
                                 struct mopay_payment *x)
{
    if (x->status != MOPAY_PAYMENT_REQUIRES_CONFIRMATION || now_ns >= x->confirm_by_ns)
        return MOPAY_ERR_payment_not_confirmable;
    if (x->order != NULL && mopay_order_payable(x->order, now_ns) != MOPAY_OK)
        return mopay_order_payable(x->order, now_ns);
    payment_unconfirmed_unlink(p, x);
    enum mopay_err err = settle(p, store, x, true, now_ns);
    atomic_fetch_add(&p->made[x->method][x->status], 1);
    return err;
}

enum mopay_err mopay_pay_tick(struct mopay_pay_state *p, struct mopay_store *store, int64_t now_ns)
{
    struct mopay_payment **link = &p->unconfirmed;
    while (*link != NULL) {
        struct mopay_payment *x = *link;
        if (x->confirm_by_ns > now_ns) {
            link = &x->next_unconfirmed;
            continue;
        }
        *link = x->next_unconfirmed;
        x->next_unconfirmed = NULL;
        x->status = MOPAY_PAYMENT_DECLINED;
        mopay_text_copy(x->decline_code, sizeof(x->decline_code), "confirmation_timeout");
        atomic_fetch_add(&p->made[x->method][x->status], 1);
        enum mopay_err err = payment_record(store, now_ns, x);
        if (err == MOPAY_OK && p->options.events.payment != NULL)
            err = p->options.events.payment(p->options.events.ctx, store, now_ns, x);
        if (err != MOPAY_OK)
            return err;
    }
    return MOPAY_OK;
}
