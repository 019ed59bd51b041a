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
    if (x->wallet == NULL)
        return MOPAY_ERR_wallet_not_found;
    bool same = x->wallet->currency == x->merchant->currency;
    if (same != (x->fx.wallet_minor == 0))
        return MOPAY_ERR_currency_mismatch; /* across currencies only at a quote's rate */
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

/* The rules: balance and daily limit, a PIN step-up for large payments; then the risk engine's
 * verdict (kept with the payment, reasons and all), which may decline or ask for the PIN too. A
 * payment whose PIN was verified is not asked again, but the engine may still decline it. */
static enum mopay_err risk(struct mopay_pay_state *p, struct mopay_payment *x, bool pin_verified, int64_t now_ns,
                           bool *step_up)
{
    *step_up = false;
    int64_t paid = mopay_payment_wallet_amount(x);
    enum mopay_err err = mopay_wallet_outflow_check(p->options.wallet, x->wallet, paid, now_ns);
    if (err != MOPAY_OK)
        return err;
    int64_t threshold = p->options.confirm_above_major;
    *step_up = !pin_verified && threshold > 0 && paid >= major_to_minor(threshold, x->wallet->currency);
    if (p->options.risk.score == NULL)
        return MOPAY_OK;
    p->options.risk.score(p->options.risk.ctx, x, now_ns, &x->risk);
    if (x->risk.action != MOPAY_RISK_APPROVE && x->review == MOPAY_REVIEW_NONE)
        x->review = MOPAY_REVIEW_OPEN; /* flagged: into the operator's review queue */
    if (x->risk.action == MOPAY_RISK_DECLINE)
        return MOPAY_ERR_risk_declined;
    *step_up = *step_up || (x->risk.action == MOPAY_RISK_CONFIRM && !pin_verified);
    return MOPAY_OK;
}

void chain_leg(struct chain *c, const struct mopay_id *debit, const struct mopay_id *credit, int64_t amount,
               uint16_t currency, uint16_t code, int64_t now_ns)
{
    if (amount == 0)
        return;
    MOPAY_ASSERT(amount > 0 && c->n < PAY_LEGS_MAX);
    struct mopay_ledger_transfer *t = &c->t[c->n++];
    memset(t, 0, sizeof(*t));
    mopay_id_new(now_ns, &t->id);
    t->debit_account_id = *debit;
    t->credit_account_id = *credit;
    t->amount = (uint64_t)amount;
    t->currency = currency;
    t->code = code;
}

/* Posts the chain, linked: all of it or none. insufficient_funds when a leg out of a wallet or a
 * merchant found too little. */
enum mopay_err chain_post(struct mopay_pay_state *p, struct chain *c, int64_t now_ns)
{
    for (size_t i = 0; i + 1 < c->n; i++)
        c->t[i].flags |= MOPAY_LEDGER_LINKED;
    uint8_t results[PAY_LEGS_MAX] = {0};
    if (mopay_ledger_service_create_transfers(p->options.ledger, c->t, c->n, now_ns, results) == c->n)
        return MOPAY_OK;
    for (size_t i = 0; i < c->n; i++)
        if (results[i] == MOPAY_LEDGER_exceeds_credits)
            return MOPAY_ERR_insufficient_funds;
    return MOPAY_ERR_ledger_rejected;
}

/* A platform account of the payment's ledger. */
enum mopay_err platform_account(struct mopay_pay_state *p, enum mopay_ledger_kind kind,
                                const struct mopay_currency *c, int64_t now_ns, struct mopay_id *out)
{
    return mopay_ledger_service_system_account(p->options.ledger, kind, c->numeric, now_ns, out);
}

/* The customer's share reaches the merchant: straight from the wallet, or across currencies
 * through the FX positions (the wallet's currency in, the merchant's out), the FX fee to revenue. */
static enum mopay_err chain_customer_share(struct mopay_pay_state *p, const struct mopay_payment *x, struct chain *c,
                                           int64_t now_ns)
{
    const struct mopay_currency *m = x->merchant->currency, *w = x->wallet->currency;
    int64_t share = mopay_payment_share(x);
    if (x->fx.wallet_minor == 0) {
        chain_leg(c, &x->wallet->id, &x->merchant->id, share, m->numeric, MOPAY_PAY_CODE_PAYMENT, now_ns);
        return MOPAY_OK;
    }
    struct mopay_id pos_w, pos_m, revenue_w;
    enum mopay_err err = platform_account(p, MOPAY_LEDGER_KIND_FX_POSITION, w, now_ns, &pos_w);
    if (err == MOPAY_OK)
        err = platform_account(p, MOPAY_LEDGER_KIND_FX_POSITION, m, now_ns, &pos_m);
    if (err == MOPAY_OK)
        err = platform_account(p, MOPAY_LEDGER_KIND_REVENUE, w, now_ns, &revenue_w);
    if (err != MOPAY_OK)
        return err;
    chain_leg(c, &x->wallet->id, &pos_w, x->fx.wallet_minor - x->fx.fx_fee_minor, w->numeric, MOPAY_PAY_CODE_FX, now_ns);
    chain_leg(c, &x->wallet->id, &revenue_w, x->fx.fx_fee_minor, w->numeric, MOPAY_PAY_CODE_FX_FEE, now_ns);
    chain_leg(c, &pos_m, &x->merchant->id, share, m->numeric, MOPAY_PAY_CODE_FX, now_ns);
    return MOPAY_OK;
}

/* The whole payment as one linked chain: the customer's share, a platform-funded coupon's share
 * from the offer budget, and the merchant's fee to revenue. */
static enum mopay_err ledger_post(struct mopay_pay_state *p, const struct mopay_payment *x, int64_t now_ns)
{
    struct chain c = {.n = 0};
    const struct mopay_currency *m = x->merchant->currency;
    enum mopay_err err = chain_customer_share(p, x, &c, now_ns);
    if (err == MOPAY_OK && x->coupon != NULL && x->coupon->offer->funder == MOPAY_OFFER_PLATFORM_FUNDED) {
        struct mopay_id budget;
        if ((err = platform_account(p, MOPAY_LEDGER_KIND_OFFER_BUDGET, m, now_ns, &budget)) == MOPAY_OK)
            chain_leg(&c, &budget, &x->merchant->id, x->discount_minor, m->numeric, MOPAY_PAY_CODE_DISCOUNT, now_ns);
    }
    if (err == MOPAY_OK && x->fee_minor > 0) {
        struct mopay_id revenue;
        if ((err = platform_account(p, MOPAY_LEDGER_KIND_REVENUE, m, now_ns, &revenue)) == MOPAY_OK)
            chain_leg(&c, &x->merchant->id, &revenue, x->fee_minor, m->numeric, MOPAY_PAY_CODE_FEE, now_ns);
    }
    return err == MOPAY_OK ? chain_post(p, &c, now_ns) : err;
}

/* What a succeeded payment changes besides the ledger. */
static enum mopay_err bookkeeping(struct mopay_pay_state *p, struct mopay_store *store, struct mopay_payment *x,
                                  int64_t now_ns)
{
    char id[MOPAY_ID_TEXT_BYTES];
    mopay_id_format(MOPAY_ID_PAYMENT, &x->id, id);
    int64_t paid = mopay_payment_wallet_amount(x);
    enum mopay_err err = mopay_wallet_outflow_count(p->options.wallet, store, x->wallet, paid, now_ns, now_ns);
    if (err == MOPAY_OK)
        err = mopay_wallet_history_add(store, x->wallet, now_ns, id, x->method == MOPAY_PAY_BILL ? "bill" : "payment",
                                       -paid, x->merchant->name, x->reference);
    if (err == MOPAY_OK && x->order != NULL)
        err = mopay_order_mark_paid(p->options.merchant, store, now_ns, x->order, &x->id);
    if (err == MOPAY_OK && x->coupon != NULL)
        err = mopay_coupon_redeem(p->options.offers, store, now_ns, x->coupon, &x->id, x->discount_minor);
    if (err == MOPAY_OK && x->method == MOPAY_PAY_BILL) {
        struct mopay_bill *bill = mopay_bill_get(p->options.merchant, &x->bill_id);
        MOPAY_ASSERT(bill != NULL);
        err = mopay_bill_pay(p->options.merchant, store, now_ns, bill, x->amount_minor);
        if (err == MOPAY_OK)
            err = mopay_wallet_trust_note(p->options.wallet, store, now_ns, x->customer,
                                          now_ns <= bill->due_at_ns ? MOPAY_TRUST_BILL_ON_TIME : MOPAY_TRUST_BILL_LATE);
    }
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
    if (err == MOPAY_OK && x->status == MOPAY_PAYMENT_SUCCEEDED && p->options.risk.commit != NULL)
        p->options.risk.commit(p->options.risk.ctx, x, now_ns);
    if (err == MOPAY_OK && decline == MOPAY_ERR_insufficient_funds)
        err = mopay_wallet_trust_note(p->options.wallet, store, now_ns, x->customer, MOPAY_TRUST_SHORT);
    if (err == MOPAY_OK)
        err = payment_record(p, now_ns, x);
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
    if (req->wallet == NULL && req->fx != NULL)
        x->wallet = NULL; /* a cross-currency payment names the wallet its quote sells from */
    MOPAY_ASSERT(x->wallet == NULL || x->wallet->customer == req->customer);
    MOPAY_ASSERT(req->coupon == NULL || (req->discount_minor > 0 && req->discount_minor < req->amount_minor));
    x->order = req->order;
    x->method = req->method;
    x->amount_minor = req->amount_minor;
    x->tip_minor = req->tip_minor;
    x->coupon = req->coupon;
    x->discount_minor = req->coupon != NULL ? req->discount_minor : 0;
    if (req->fx != NULL)
        x->fx = *req->fx;
    if (req->bill != NULL)
        x->bill_id = req->bill->id;
    /* the fee is on what the merchant receives: a merchant-funded discount is not received */
    bool merchant_funded = x->coupon != NULL && x->coupon->offer->funder == MOPAY_OFFER_MERCHANT_FUNDED;
    x->fee_minor = mopay_merchant_fee(req->merchant, req->amount_minor - (merchant_funded ? x->discount_minor : 0));
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
    /* the coupon may have paid, or its offer's budget been spent, while this one waited */
    enum mopay_err usable = x->coupon != NULL ? mopay_coupon_redeemable(x->coupon, x->discount_minor) : MOPAY_OK;
    if (usable != MOPAY_OK)
        return usable;
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
        if (p->options.events.payment_room != NULL && !p->options.events.payment_room(p->options.events.ctx, x)) {
            atomic_fetch_add(&p->timeouts_deferred, 1); /* the next tick tries again */
            link = &x->next_unconfirmed;
            continue;
        }
        *link = x->next_unconfirmed;
        x->next_unconfirmed = NULL;
        x->status = MOPAY_PAYMENT_DECLINED;
        mopay_text_copy(x->decline_code, sizeof(x->decline_code), "confirmation_timeout");
        atomic_fetch_add(&p->made[x->method][x->status], 1);
        enum mopay_err err = payment_record(p, now_ns, x);
        if (err == MOPAY_OK && p->options.events.payment != NULL)
            err = p->options.events.payment(p->options.events.ctx, store, now_ns, x);
        if (err != MOPAY_OK)
            return err;
    }
    return MOPAY_OK;
}
